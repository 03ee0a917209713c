"""Imports follow the API's rules: the same event-time window and the same id rule, so a
file and a request that name one record reach one record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store
from tailorcrm.store.tables import QuarantineRow


@pytest.fixture()
def tenant(database_url: str) -> Iterator[tuple[Store, int]]:
    """A store with tenant "t" (SQLite, and PostgreSQL when available)."""
    store = Store.open(database_url)
    try:
        yield store, store.tenants.ensure("t")
    finally:
        store.close()


def _reasons(store: Store, import_id: int) -> dict[int, tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(QuarantineRow.row_number, QuarantineRow.field,
                                   QuarantineRow.reason).where(
            QuarantineRow.import_id == import_id)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_event_imports_refuse_times_outside_the_window_and_keep_good_rows(
        tenant: tuple[Store, int], tmp_path: Path) -> None:
    store, tid = tenant
    csv = tmp_path / "events.csv"
    csv.write_text("customer_id,item_id,type,timestamp\n"
                   "c1,i1,purchase,2025-01-01T10:00:00Z\n"
                   "c1,i2,purchase,1600-01-01\n"
                   "c2,i1,purchase,1899-12-31T23:00:00Z\n"
                   "c2,i2,purchase,9999-12-31T23:59:59Z\n"
                   "c3,i1,purchase,1900-01-01T00:00:00Z\n", encoding="utf-8")
    result = run_import(store, tid, "events", csv)
    assert (result.report.rows_loaded, result.report.rows_rejected) == (2, 3)
    reasons = _reasons(store, result.import_id)
    assert {row: field for row, (field, _) in reasons.items()} == {
        2: "timestamp", 3: "timestamp", 4: "timestamp"}
    assert "before 1900-01-01" in reasons[3][1] and "future" in reasons[4][1]
    assert len(store.load_dataset(tid).events) == 2


def test_imported_ids_are_normalised_like_api_ids(tenant: tuple[Store, int], tmp_path: Path
                                                 ) -> None:
    store, tid = tenant
    store.customers.upsert(tid, [{"customer_id": "cust-0005"}])
    csv = tmp_path / "customers.csv"
    # NBSP and NEL padding, a decomposed é, a zero-width space, a bidi override
    csv.write_text("customer_id\n"
                   "\u00a0cust-0005\u0085\n"
                   "cafe\u0301\n"
                   "cust\u200b-0006\n"
                   "\u202ecust-0007\n"
                   "cust-0008\n", encoding="utf-8")
    result = run_import(store, tid, "customers", csv)
    r = result.report  # the padded cust-0005 changes nothing of the stored one: a duplicate
    assert (r.rows_loaded, r.rows_duplicate, r.rows_rejected) == (2, 1, 2)
    ids = {c.customer_id for c in store.customers.list(tid)}
    assert ids == {"cust-0005", "caf\u00e9", "cust-0008"}
    reasons = _reasons(store, result.import_id)
    assert {f for f, _ in reasons.values()} == {"customer_id"}
    assert any("U+200B" in r for _, r in reasons.values())


def test_event_imports_create_referenced_records_but_never_an_erased_customer(
        tenant: tuple[Store, int], tmp_path: Path) -> None:
    store, tid = tenant
    csv = tmp_path / "events.csv"
    csv.write_text("customer_id,item_id,type,timestamp\n"
                   "c1,i1,purchase,2025-01-01T10:00:00Z\n"
                   "c2,i1,purchase,2025-01-02T10:00:00Z\n"
                   "c2,i2,purchase,2025-01-03T10:00:00Z\n", encoding="utf-8")
    first = run_import(store, tid, "events", csv)
    assert (first.report.customers_created, first.report.items_created) == (2, 2)
    store.erase_customer(tid, "c2")
    again = run_import(store, tid, "events", csv)  # the old file, once more
    assert again.report.rows_rejected == 2
    assert any("erased" in r for r in again.report.errors_by_reason)
    assert store.customers.find(tid, "c2") is None
    assert store.events.for_customer(tid, "c2") == []
    assert not _reasons(store, again.import_id)  # nothing of theirs kept in quarantine
    assert len(store.load_dataset(tid).events) == 1
