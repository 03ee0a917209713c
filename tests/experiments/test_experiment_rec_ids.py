"""Recommendation ids carry the experiment arm, signed; ids without one parse as before."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from tailorcrm.errors import NotFoundError
from tailorcrm.serving.rec_ids import _tag, make_recommendation_id, parse_recommendation_id

KEY = secrets.token_bytes(32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signed(doc: dict[str, object]) -> str:
    body = json.dumps(doc, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(_tag(KEY, body))}"


def test_the_arm_round_trips_and_old_ids_parse() -> None:
    ref = parse_recommendation_id(KEY, make_recommendation_id(KEY, "c1", "b", "v3",
                                                              arm=("hp", "diverse")))
    assert (ref.customer_id, ref.strategy, ref.experiment, ref.variant) == (
        "c1", "b", "hp", "diverse")
    old = parse_recommendation_id(KEY, _signed({"c": "c1", "s": "a", "v": "v1", "r": "00"}))
    assert (old.experiment, old.variant) == (None, None)


@pytest.mark.parametrize("arm", ["hp", ["hp"], ["hp", 3], {"e": "hp"}, ["a", "b", "c"]])
def test_a_malformed_arm_is_refused_even_when_signed(arm: object) -> None:
    with pytest.raises(NotFoundError):
        parse_recommendation_id(KEY, _signed({"c": "c1", "s": "a", "v": "v1", "x": arm}))


def test_an_arm_changed_after_signing_is_refused() -> None:
    good = make_recommendation_id(KEY, "c1", "a", "v1", arm=("hp", "control"))
    payload, tag = good.split(".")
    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    doc["x"] = ["hp", "diverse"]
    forged = _b64(json.dumps(doc, separators=(",", ":")).encode()) + "." + tag
    with pytest.raises(NotFoundError):
        parse_recommendation_id(KEY, forged)
