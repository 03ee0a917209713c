"""Store contract, bookkeeping side: configs and imports, on both backends (the results store
and the model store have suites of their own: ``test_results_store_contract.py``,
``test_model_store_contract.py``)."""

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
