"""Recommendation ids are signed per tenant: feedback to a forged, tampered, truncated or
another tenant's id records nothing and answers 404 in the error shape, never 5xx (both
backends)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import Api, seed

from tailorcrm.serving.recommend import (
    make_recommendation_id,
    parse_recommendation_id,
    recommendation_key,
)

FEEDBACK = {"item_id": "i1", "outcome": "clicked"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unsigned(customer_id: str = "c10") -> str:
    """An id as issued before signing: base64 JSON anybody can write."""
    return _b64(json.dumps({"c": customer_id, "s": "vip", "v": "forged-v9",
                            "r": "00000000"}).encode())


@pytest.fixture()
def seeded(api: Api) -> Iterator[Api]:
    seed(api)
    yield api


def _post(api: Api, rec_id: str) -> tuple[int, dict[str, Any]]:
    r = api.client.post(f"/v1/recommendations/{rec_id}/feedback", json=FEEDBACK,
                        headers=api.h("write"))
    assert r.status_code < 500, r.text
    return r.status_code, r.json()


def _clicks(api: Api, customer_id: str = "c10") -> int:
    return len(api.store.events.for_customer(api.tid, customer_id, types=["click"]))


def test_issued_ids_are_compact_signed_and_verified(seeded: Api) -> None:
    key = recommendation_key(seeded.store, seeded.tid)
    rec_id = make_recommendation_id(key, "c10", "default", "v1")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}", rec_id) and len(rec_id) < 120
    ref = parse_recommendation_id(key, rec_id)
    assert (ref.customer_id, ref.strategy, ref.model_version) == ("c10", "default", "v1")
    status, body = _post(seeded, rec_id)
    assert status == 200 and body["customer_id"] == "c10" and body["recorded"] is True
    assert _clicks(seeded) == 1


def test_forged_and_foreign_ids_record_nothing(seeded: Api) -> None:
    store = seeded.store
    key = recommendation_key(store, seeded.tid)
    good = make_recommendation_id(key, "c10", "default", "v1")
    payload, tag = good.split(".")
    other = store.tenants.ensure("bravo")
    store.customers.upsert(other, [{"customer_id": "c10"}])
    foreign = make_recommendation_id(recommendation_key(store, other), "c10", "default", "v1")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    swapped = _b64(json.dumps({**body, "s": "vip"}, separators=(",", ":")).encode())
    forged = {
        "unsigned": _unsigned(),
        "unsigned with a made-up tag": f"{_unsigned()}.{tag}",
        "another tenant's": foreign,
        "payload tampered": f"{swapped}.{tag}",
        "tag tampered": f"{payload}.{tag[:-1]}{'A' if tag[-1] != 'A' else 'B'}",
        "tag truncated": f"{payload}.{tag[:-4]}",
        "no tag": f"{payload}.",
        "payload truncated": f"{payload[:-2]}.{tag}",
        "padded": f"{payload}=.{tag}",
        "not URL-safe base64": f"{payload}+.{tag}",
    }
    for name, rec_id in forged.items():
        status, answer = _post(seeded, rec_id)
        assert status == 404, (name, status, answer)
        assert answer == {"error": {"code": "not_found", "message": "no such recommendation",
                                    "details": {}}}, name
    assert _clicks(seeded) == 0
    assert store.events.for_customer(other, "c10") == []


def test_id_of_an_erased_customer_is_refused(seeded: Api) -> None:
    rec_id = make_recommendation_id(recommendation_key(seeded.store, seeded.tid), "c10",
                                    "default", "v1")
    assert seeded.client.delete("/v1/customers/c10", headers=seeded.h("write")).status_code == 204
    assert _post(seeded, rec_id)[0] == 404
    assert seeded.store.events.for_customer(seeded.tid, "c10") == []


HOSTILE = [".", "..", "...", "=", "==.==", "a", "a.b", "A" * 999, "eyJjIjoiYzEwIn0",
           "eyJjIjoiYzEwIn0.", ".eyJjIjoiYzEwIn0", "%00", "%00.%00", "%FF%FE", "%C3%BC.%C3%BC",
           "null", "[]", "{}", "e30.e30", "W10.AAAAAAAAAAAAAAAAAAAAAA",
           "bnVsbA.AAAAAAAAAAAAAAAAAAAAAA",
           "..%2F..%2Fetc%2Fpasswd", "\N{SNOWMAN}", "a" * 40 + "." + "b" * 40, " .", "-_-_.-_",
           "%0A.%0D"]


@pytest.mark.parametrize("rec_id", HOSTILE)
def test_hostile_recommendation_ids_answer_404(seeded: Api, rec_id: str) -> None:
    status, answer = _post(seeded, rec_id)
    assert status == 404, (rec_id, answer)
    assert set(answer) == {"error"} and answer["error"]["code"] == "not_found"


def test_overlong_ids_are_refused_without_a_server_error(seeded: Api) -> None:
    status, answer = _post(seeded, "A" * 1001)
    assert status in (404, 422) and set(answer) == {"error"}
