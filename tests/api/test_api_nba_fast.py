"""The next-best-actions route serves from the worker's memory: the same answer as the store
path, kept between requests, and a write through the API is seen by the next request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, make_api

from tailorcrm.customize.budget import RequestBudget
from tailorcrm.customize.feedback import ensure_feedback_schema
from tailorcrm.customize.nba import actions_for_customer
from tailorcrm.serving.actions_cache import CATALOG_TTL_S

CATALOG = {"actions": [
    {"name": "save", "title": "Retention call", "eligibility": "needs.churn > 0.5",
     "priority": 2.0, "value": "needs.churn * 100.0"},
    {"name": "upsell", "eligibility": "needs.upgrade > 0.5", "priority": 1.0},
    {"name": "broken", "eligibility": "customer.missing == 'x'"},  # fails: no such field
]}


@pytest.fixture()
def api(sqlite_url: str, tmp_path: Path) -> Iterator[Api]:
    made = make_api(sqlite_url, tmp_path / "artifacts")
    yield made
    made.store.close()


def _store_answer(api: Api, customer_id: str, limit: int = 5) -> list[dict[str, Any]]:
    found = actions_for_customer(api.store, api.tid, customer_id, limit=limit,
                                 budget=RequestBudget.unbounded())
    return [a.to_dict() for a in found]


def test_route_answers_as_the_store_and_sees_writes_at_once(api: Api) -> None:
    c = api.client
    for cid in ("a", "b"):
        assert c.put(f"/v1/customers/{cid}", json={}, headers=api.h("write")).status_code == 200
    api.store.need_scores.replace(api.tid, "churn", [
        {"customer_id": "a", "score": 0.8, "model_version": "v1"},
        {"customer_id": "b", "score": 0.6, "model_version": "baseline-v1"}])
    api.store.need_scores.replace(api.tid, "upgrade", [
        {"customer_id": "a", "score": 0.9, "model_version": "v1"}])
    assert c.put("/v1/actions/default", json=CATALOG, headers=api.h()).status_code == 200
    ensure_feedback_schema(api.store, api.tid)

    for cid, failing in (("a", ["broken"]), ("b", ["upsell", "broken"])):
        first = c.get(f"/v1/customers/{cid}/next-best-actions", headers=api.h("read"))
        assert first.status_code == 200, first.text
        again = c.get(f"/v1/customers/{cid}/next-best-actions", headers=api.h("read"))
        assert again.content == first.content  # kept: the same bytes
        body = first.json()
        assert body["actions"] == _store_answer(api, cid)
        assert [e["name"] for e in body["rule_errors"]] == failing  # kept with the answer
    assert [a["action"] for a in c.get("/v1/customers/a/next-best-actions?limit=1",
                                       headers=api.h("read")).json()["actions"]] == ["save"]
    assert c.get("/v1/customers/zz/next-best-actions",
                 headers=api.h("read")).status_code == 404
    assert c.get("/v1/customers/a/next-best-actions?catalog=none",
                 headers=api.h("read")).status_code == 404

    # a rejection posted through this worker leaves the very next answer
    r = c.post("/v1/events", json={"customer_id": "a", "type": "action_rejected",
                                   "attributes": {"nba_action": "save"}},
               headers=api.h("write"))
    assert r.status_code == 200, r.text
    after = c.get("/v1/customers/a/next-best-actions", headers=api.h("read")).json()
    assert [a["action"] for a in after["actions"]] == ["upsell"]
    assert after["actions"] == _store_answer(api, "a")

    # a catalog saved serves within CATALOG_TTL_S (at once once PUT /v1/actions touches the
    # worker's caches as PUT /v1/strategies does)
    assert c.put("/v1/actions/default", json={"actions": [
        {"name": "only", "eligibility": "true"}]}, headers=api.h()).status_code == 200
    time.sleep(CATALOG_TTL_S)
    assert [a["action"] for a in c.get("/v1/customers/b/next-best-actions",
                                       headers=api.h("read")).json()["actions"]] == ["only"]
    # a customer created through this worker is known at once
    assert c.put("/v1/customers/new", json={}, headers=api.h("write")).status_code == 200
    assert c.get("/v1/customers/new/next-best-actions",
                 headers=api.h("read")).json()["actions"][0]["action"] == "only"


def test_profiling_denied_leaves_need_scores_out_of_actions(api: Api) -> None:
    """A customer who denies profiling gets no action that needs their need scores, at the
    next request and on the store path alike."""
    c = api.client
    assert c.put("/v1/customers/p", json={}, headers=api.h("write")).status_code == 200
    api.store.need_scores.replace(api.tid, "churn", [
        {"customer_id": "p", "score": 0.9, "model_version": "v1"}])
    assert c.put("/v1/actions/default", json=CATALOG, headers=api.h()).status_code == 200
    ensure_feedback_schema(api.store, api.tid)
    before = c.get("/v1/customers/p/next-best-actions", headers=api.h("read")).json()
    assert "save" in [a["action"] for a in before["actions"]]
    assert c.put("/v1/customers/p", json={"consent_profiling": "denied"},
                 headers=api.h("write")).status_code == 200
    after = c.get("/v1/customers/p/next-best-actions", headers=api.h("read")).json()
    assert "save" not in [a["action"] for a in after["actions"]]
    assert "save" not in [a["action"] for a in _store_answer(api, "p")]
