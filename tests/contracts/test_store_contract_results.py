"""Store contract, results side: caches, configs, imports; on both backends (the model
registry has its own suite, ``test_model_store_contract.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tailorcrm.errors import NotFoundError
from tailorcrm.store import Store


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as s:
        yield s


def test_segments_replace_members_and_sizes(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    store.segments.replace(tid, "rfm", {"c1": "champions", "c2": "lost", "c3": "champions"})
    store.segments.replace(tid, "behaviour", {"c1": "browsers"})
    assert store.segments.of_customer(tid, "c1") == {"behaviour": "browsers", "rfm": "champions"}
    assert store.segments.members(tid, "rfm", "champions") == ["c1", "c3"]
    store.segments.replace(tid, "rfm", {"c2": "champions"})  # whole segmentation replaced
    assert store.segments.list(tid) == {"behaviour": {"browsers": 1}, "rfm": {"champions": 1}}


def test_need_scores_replace_and_top(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    store.need_scores.replace(tid, "churn", [
        {"customer_id": "c1", "score": 0.2, "model_version": "v1"},
        {"customer_id": "c2", "score": 0.9, "model_version": "v1",
         "reasons": [{"feature": "tenure", "effect": 0.4}]}])
    store.need_scores.replace(tid, "upgrade", [{"customer_id": "c2", "score": 0.5}])
    got = store.need_scores.for_customer(tid, "c2")
    assert sorted(got) == ["churn", "upgrade"]
    assert got["churn"].reasons == [{"feature": "tenure", "effect": 0.4}]
    assert [r.customer_id for r in store.need_scores.top(tid, "churn", limit=1)] == ["c2"]
    store.need_scores.replace(tid, "churn", [])
    assert list(store.need_scores.for_customer(tid, "c2")) == ["upgrade"]


def test_recommendation_lists_and_staleness(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    items = [{"item_id": "i1", "score": 0.7, "reasons": ["bought with i2"]}, {"item_id": "i2"}]
    store.recommendations.replace(tid, "home", [
        {"customer_id": "c1", "items": items, "model_version": "v1", "config_hash": "h1"},
        {"customer_id": "c2", "items": [], "model_version": "v0", "config_hash": "h1"}])
    got = store.recommendations.get(tid, "home", "c1")
    assert got is not None and got.items == items
    assert not got.is_stale("v1", "h1") and got.is_stale("v1", "h2")
    assert store.recommendations.count_stale(tid, "home", model_version="v1",
                                             config_hash="h1") == (1, 2)
    assert store.recommendations.get(tid, "other", "c1") is None
    assert store.recommendations.strategies(tid) == {"home": 2}


def test_configs_are_versioned(store: Store) -> None:
    tid = store.tenants.ensure("acme")
    assert store.configs.put(tid, "strategy", "home", {"model": "als", "n": 10}) == 1
    assert store.configs.put(tid, "strategy", "home", {"model": "als", "n": 10}) == 1
    assert store.configs.put(tid, "strategy", "home", {"model": "ease", "n": 10}) == 2
    assert store.configs.get(tid, "strategy", "home")["model"] == "ease"
    assert store.configs.get(tid, "strategy", "home", version=1)["model"] == "als"
    assert store.configs.versions(tid, "strategy", "home") == [1, 2]
    store.configs.put(tid, "rules", "default", {"rules": []})
    assert [(c.kind, c.name, c.version) for c in store.configs.list(tid)] == [
        ("rules", "default", 1), ("strategy", "home", 2)]
    with pytest.raises(NotFoundError):
        store.configs.get(tid, "strategy", "home", version=3)


def test_imports_and_quarantine_export(store: Store, tmp_path: Path) -> None:
    tid = store.tenants.ensure("acme")
    run = store.imports.start(tid, "events", "retail.csv")
    store.imports.quarantine_rows(tid, run, [
        {"entity": "event", "row_number": 7, "field": "ts", "reason": "not a date",
         "raw": {"ts": "yesterday", "qty": float("nan")}},
        {"entity": "event", "row_number": 3, "field": "customer_id", "reason": "missing id"}])
    store.imports.finish(tid, run, rows_read=10, rows_loaded=8, rows_rejected=2,
                         report={"errors": 2, "share": float("inf")})
    rec = store.imports.get(tid, run)
    assert (rec.rows_loaded, rec.rows_rejected, rec.report) == (8, 2, {
        "status": "succeeded", "errors": 2, "share": None})
    assert rec.finished_at is not None
    assert [q.row_number for q in store.imports.quarantine(tid, run)] == [3, 7]
    assert store.imports.quarantine(tid)[1].raw == {"ts": "yesterday", "qty": None}
    out = tmp_path / "q.csv"
    assert store.imports.export_quarantine(tid, out, run) == 2
    assert out.read_text().splitlines()[0] == "import_id,entity,row_number,field,reason,raw"
    other = store.tenants.ensure("other")
    with pytest.raises(NotFoundError):
        store.imports.quarantine_rows(other, run, [{"entity": "event", "row_number": 1,
                                                    "reason": "x"}])
    assert store.imports.list(other) == [] and store.imports.quarantine(other) == []
