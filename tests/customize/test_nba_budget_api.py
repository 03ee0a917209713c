"""Hostile eligibility rules through the real API: no 5xx, the action skipped and reported.

Latency and memory under load are measured by ``benchmarks/bench_noisy_neighbour.py``;
these tests assert outcomes only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tailorcrm.api import create_app
from tailorcrm.customize.budget import RuleLimits
from tailorcrm.settings import Settings
from tailorcrm.store import Store

HOSTILE = {
    "nested-all": "customer.biglist.all(x, customer.biglist.all(y, x != 'zz'))",
    "nested-map": ("customer.biglist.map(x, customer.biglist.map(y, customer.text + "
                   "customer.text)).size() > 0"),
    "map-concat": "customer.biglist.map(x, customer.text + customer.text).size() > 0",
}


@pytest.fixture()
def client(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store = Store.open(sqlite_url)
    tid = store.tenants.ensure("acme")
    _, key = store.keys.create(tid, ["admin"])
    settings = Settings(database_url=sqlite_url, artifacts_dir=tmp_path / "artifacts",
                        rule_limits=RuleLimits(request_ms=5_000.0))
    c, h = TestClient(create_app(settings, store)), {"Authorization": f"Bearer {key}"}
    for name, kind in (("biglist", "list"), ("text", "text"), ("tier", "string"),
                       ("name", "string")):
        r = c.post("/v1/schema/customer/fields", json={"name": name, "type": kind}, headers=h)
        assert r.status_code == 201, r.text
    yield c, h
    store.close()


def _catalog(eligibility: str) -> dict[str, Any]:
    return {"actions": [{"name": "costly", "priority": 9, "eligibility": eligibility},
                        {"name": "cheap", "priority": 1, "eligibility": "true"}]}


@pytest.mark.parametrize("rule", sorted(HOSTILE))
@pytest.mark.parametrize(("n_list", "text_chars"), [(300, 1_000_000), (250, 4_000)])
def test_costly_eligibility_is_skipped_and_reported_without_5xx(
        client: tuple[TestClient, dict[str, str]], rule: str, n_list: int,
        text_chars: int) -> None:
    c, h = client
    attributes = {"biglist": [f"w{i}" for i in range(n_list)], "text": "x" * text_chars}
    assert c.put("/v1/customers/a", json={"attributes": attributes},
                 headers=h).status_code == 200
    assert c.put("/v1/actions/default", json=_catalog(HOSTILE[rule]),
                 headers=h).status_code == 200  # it passes validation: cost is data-bound
    for _ in range(2):
        r = c.get("/v1/customers/a/next-best-actions", headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [a["action"] for a in body["actions"]] == ["cheap"]
        [error] = body["rule_errors"]
        assert error["name"] == "costly" and error["reason"] == "budget", error
        assert error["limit"] in ("attribute", "eval_steps", "eval_time", "alloc", "size")
    metrics = c.get("/metrics").text
    assert 'tailorcrm_rule_budget_exceeded_total{limit="' in metrics


def test_a_regex_re2_refuses_is_rejected_when_the_catalog_is_saved(
        client: tuple[TestClient, dict[str, str]]) -> None:
    c, h = client
    r = c.put("/v1/actions/default", json=_catalog(r"customer.name.matches('(a)\\1')"),
              headers=h)
    assert r.status_code == 422, r.text
    details = r.json()["error"]["details"]
    assert details["reason"] == "regex" and details["column"] == 23


def test_cheap_rules_answer_as_before(client: tuple[TestClient, dict[str, str]]) -> None:
    c, h = client
    c.put("/v1/customers/a", json={"attributes": {"tier": "gold"}}, headers=h)
    c.put("/v1/actions/default", json={"actions": [
        {"name": "gold", "priority": 2, "eligibility": "customer.tier == 'gold'"},
        {"name": "silver", "priority": 1, "eligibility": "customer.tier == 'silver'"}]},
        headers=h)
    body = c.get("/v1/customers/a/next-best-actions", headers=h).json()
    assert [a["action"] for a in body["actions"]] == ["gold"]
    assert body["rule_errors"] == []
    assert c.get("/v1/customers/zz/next-best-actions", headers=h).status_code == 404
