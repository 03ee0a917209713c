"""Tenant isolation and access control, walked over every operation of the OpenAPI document.

A key of tenant A (admin scope) calls every operation with B's ids in the path; B's data must
be exactly as before and no response may carry B's marker. Every secured operation answers
401 without a key or with a wrong one, and 403 to a key without the scope it needs.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from api_helpers import Api

from tailorcrm.jobs.train import TrainConfig
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.serving.recommend import make_recommendation_id, recommendation_key

MARK = "SECRET-OF-B"
PUBLIC = {"/healthz", "/readyz", "/metrics"}
ADMIN_ONLY = {("POST", "/v1/schema/{entity}/fields"), ("DELETE", "/v1/schema/{entity}/fields"),
              ("PUT", "/v1/strategies/{name}"), ("PUT", "/v1/rules/{name}"),
              ("PUT", "/v1/actions/{name}"), ("DELETE", "/v1/events/{idempotency_key}"),
              ("POST", "/v1/events:delete"), ("PUT", "/v1/settings"),
              ("DELETE", "/v1/keys/{key_id}"), ("GET", "/v1/customers/{customer_id}/export"),
              ("GET", "/v1/audit"), ("POST", "/v1/privacy/erasures"),
              ("POST", "/v1/privacy/suppressions:lift"), ("PUT", "/v1/experiments/{name}"),
              ("POST", "/v1/experiments/{name}/stop")}
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/v1/customers/{customer_id}"): {"attributes": {}},
    ("POST", "/v1/customers:batch"): {"customers": [{"customer_id": "cb"}]},
    ("PUT", "/v1/items/{item_id}"): {"title": "A's own"},
    ("POST", "/v1/items:batch"): {"items": [{"item_id": "ib"}]},
    ("POST", "/v1/events"): {"idempotency_key": "b-event-1", "customer_id": "cb",
                             "item_id": "ib", "type": "view"},
    ("POST", "/v1/events:delete"): {"customer_id": "cb", "type": "purchase"},
    ("PUT", "/v1/settings"): {"unknown_references": "create"},
    ("POST", "/v1/recommendations/{recommendation_id}/feedback"): {"item_id": "ib",
                                                                   "outcome": "clicked"},
    ("POST", "/v1/schema/{entity}/fields"): {"name": "secret_note", "type": "string"},
    ("PUT", "/v1/strategies/{name}"): {"models": [{"kind": "popularity"}]},
    ("PUT", "/v1/rules/{name}"): {"filters": [{"name": "f", "expression": "true"}]},
    ("PUT", "/v1/actions/{name}"): {"actions": [{"name": "a", "eligibility": "true"}]},
    ("POST", "/v1/privacy/erasures"): {"customer_ids": ["cb"]},
    ("PUT", "/v1/experiments/{name}"): {"description": "A's own, not valid"},
    ("POST", "/v1/experiments/{name}/stop"): {"promote": False},
    ("POST", "/v1/privacy/suppressions:lift"): {"customer_id": "cb"},
    ("POST", "/v1/jobs/train"): {"recommend": False, "precompute": False, "needs": False,
                                 "segments": False},
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("DELETE", "/v1/schema/{entity}/fields"): {"name": "secret_note"},
}
EVENT_DELETES = {("DELETE", "/v1/events/{idempotency_key}"), ("POST", "/v1/events:delete")}
ERASING = {("POST", "/v1/privacy/erasures")}  # a delete by POST: runs with the deletes
CONFIG_NAMES = {"strategies": "b-strategy", "rules": "b_rules", "actions": "b_actions",
                "experiments": "b-experiment"}


def _seed_b(api: Api) -> dict[str, str]:
    """Tenant B with one of everything, each carrying the marker; returns B's path values."""
    s = api.store
    tid = s.tenants.ensure("bravo")
    s.fields.add(tid, FieldSpec(entity="customer", name="secret_note", type=FieldType.STRING))
    s.customers.upsert(tid, [{"customer_id": "cb", "secret_note": MARK}])
    s.items.upsert(tid, [{"item_id": "ib", "title": MARK}])
    s.events.add(tid, [{"idempotency_key": "b-event-1", "customer_id": "cb", "item_id": "ib",
                        "type": "purchase", "ts": "2025-01-01T00:00:00Z"}])
    s.segments.replace(tid, "rfm", {"cb": MARK})
    s.need_scores.replace(tid, "upgrade", [{"customer_id": "cb", "score": 0.9,
                                            "reasons": [MARK]}])
    s.recommendations.replace(tid, "default", [{"customer_id": "cb", "model_version": "v",
                                                "config_hash": "h", "items": [MARK]}])
    s.configs.put(tid, "rules", "b_rules", {"filters": [], "description": MARK})
    s.configs.put(tid, "strategy", "b-strategy", {"name": "b-strategy", "description": MARK,
                                                  "models": [{"kind": "popularity"}]})
    s.configs.put(tid, "actions", "b_actions", {"description": MARK, "actions": []})
    s.configs.put(tid, "experiment", "b-experiment", {"name": "b-experiment",
                                                      "description": MARK})
    key_id, _ = s.keys.create(tid, ["read"], MARK)
    job = api.client.app.state.jobs.submit_train(  # type: ignore[attr-defined]
        tid, TrainConfig(recommend=False, needs=False, segments=False))
    while job.status in ("queued", "running"):
        time.sleep(0.05)
    return {"customer_id": "cb", "item_id": "ib", "entity": "customer", "job_id": job.job_id,
            "idempotency_key": "b-event-1", "key_id": key_id,
            "recommendation_id": make_recommendation_id(recommendation_key(s, tid), "cb",
                                                        "default", "v")}


def _snapshot(api: Api) -> dict[str, Any]:
    s = api.store
    tid = s.tenants.id_of("bravo")
    return {
        "customers": [c.model_dump() for c in s.customers.list(tid)],
        "items": [i.model_dump() for i in s.items.list(tid)],
        "events": [e.model_dump() for e in s.events.for_customer(tid, "cb")],
        "fields": [f.model_dump() for f in s.fields.list(tid)],
        "configs": [(c.kind, c.name, s.configs.get(tid, c.kind, c.name))
                    for c in s.configs.list(tid)],
        "segments": s.segments.list(tid),
        "needs": {k: v.model_dump() for k, v in s.need_scores.for_customer(tid, "cb").items()},
        "lists": s.recommendations.strategies(tid),
        "models": [m.model_dump() for m in s.models.list(tid)],
        "keys": [k.model_dump() for k in s.keys.list(tid)],
    }


def _operations(api: Api) -> list[tuple[str, str]]:
    spec = api.client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


def _call(api: Api, method: str, path: str, values: dict[str, str], headers: dict[str, str]
          ) -> Any:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "name":
            return CONFIG_NAMES[path.split("/")[2]]
        return values[name]

    url = re.sub(r"\{(\w+)\}", fill, path)
    body = BODIES.get((method, path))
    if method in ("POST", "PUT") and (method, path) not in BODIES:
        raise AssertionError(f"add a request body for {method} {path} to this test")
    return api.client.request(method, url, json=body, params=QUERIES.get((method, path)),
                              headers=headers)


def test_openapi_lists_every_route_secured(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert (path in PUBLIC) == (not op.get("security")), (method, path)
    ops = set(_operations(api))
    required = {(m, p) for m in ("PUT", "GET", "DELETE")
                for p in ("/v1/customers/{customer_id}", "/v1/items/{item_id}")}
    required |= {("POST", "/v1/customers:batch"), ("POST", "/v1/items:batch"),
                 ("POST", "/v1/events"), ("GET", "/v1/customers/{customer_id}/recommendations"),
                 ("GET", "/v1/items/{item_id}/similar"),
                 ("GET", "/v1/customers/{customer_id}/needs"),
                 ("GET", "/v1/customers/{customer_id}/next-best-actions"),
                 ("POST", "/v1/recommendations/{recommendation_id}/feedback"),
                 ("GET", "/v1/segments"), ("POST", "/v1/jobs/train"), ("GET", "/v1/jobs/{job_id}"),
                 ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
    required |= {(m, "/v1/schema/{entity}/fields") for m in ("GET", "POST", "DELETE")}
    required |= {(m, f"/v1/{r}/{{name}}") for m in ("GET", "PUT")
                 for r in ("strategies", "rules", "actions")}
    assert required <= ops, required - ops


def test_key_of_a_reads_changes_and_deletes_nothing_of_b(api: Api) -> None:
    values = _seed_b(api)
    before = _snapshot(api)
    ops = _operations(api)
    order = {"GET": 0, "DELETE": 1, "POST": 2, "PUT": 2}  # reads and deletes before writes
    statuses: dict[tuple[str, str], int] = {}
    for method, path in sorted(ops, key=lambda op: 1 if op in ERASING else order[op[0]]):
        r = _call(api, method, path, values, api.h("admin"))
        statuses[(method, path)] = r.status_code
        assert MARK not in r.text, (method, path, r.text)
        assert r.status_code < 500, (method, path, r.text)
    # A's event with B's idempotency key was stored for A, not deduplicated against B
    assert api.store.events.for_customer(api.tid, "cb", types=["view"])
    for method, path in ops:  # and again, now that A holds rows under B's ids
        if (method, path) in EVENT_DELETES:  # would delete A's own event checked below
            continue
        r = _call(api, method, path, values, api.h("admin"))
        assert MARK not in r.text, (method, path, r.text)
    assert _snapshot(api) == before
    # B's own rows are invisible to A: every read or delete by B's id found nothing
    for op in [("GET", "/v1/customers/{customer_id}"), ("GET", "/v1/items/{item_id}"),
               ("GET", "/v1/customers/{customer_id}/needs"), ("GET", "/v1/jobs/{job_id}"),
               ("DELETE", "/v1/customers/{customer_id}"), ("DELETE", "/v1/items/{item_id}"),
               ("GET", "/v1/strategies/{name}"), ("GET", "/v1/rules/{name}"),
               ("GET", "/v1/actions/{name}"), ("DELETE", "/v1/keys/{key_id}"),
               ("GET", "/v1/experiments/{name}"), ("GET", "/v1/experiments/{name}/results")]:
        assert statuses[op] == 404, op


@pytest.mark.parametrize("scheme", ["none", "malformed", "unknown", "revoked"])
def test_every_secured_route_refuses_a_missing_or_wrong_key(api: Api, scheme: str) -> None:
    values = _seed_b(api)
    if scheme == "revoked":
        key_id = api.keys["admin"].split("_")[1]
        api.store.keys.revoke(key_id)
    headers = {"none": {}, "malformed": {"Authorization": "Bearer nope"},
               "unknown": {"Authorization": "Bearer tcrm_0123456789abcdef_xyz"},
               "revoked": api.h("admin")}[scheme]
    before = _snapshot(api)
    for method, path in _operations(api):
        if path in PUBLIC:
            continue
        r = _call(api, method, path, values, headers)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["error"]["code"] == "unauthenticated"
    assert _snapshot(api) == before


def test_every_route_refuses_a_key_without_its_scope(api: Api) -> None:
    values = _seed_b(api)
    for method, path in _operations(api):
        if path in PUBLIC:
            continue
        if method != "GET":
            r = _call(api, method, path, values, api.h("read"))
            assert r.status_code == 403, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "forbidden"
        if (method, path) in ADMIN_ONLY:
            r = _call(api, method, path, values, api.h("write"))
            assert r.status_code == 403, (method, path, r.status_code)
