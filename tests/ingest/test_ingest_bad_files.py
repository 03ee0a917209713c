"""Hand-made bad files: row-level errors with row, field and reason; no good row lost."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tailorcrm.errors import ValidationError
from tailorcrm.ingest.mapping import load_mapping
from tailorcrm.ingest.quarantine import export_quarantine
from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store
from tailorcrm.store.tables import Event, ImportRun, QuarantineRow

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"


@pytest.fixture()
def store(database_url: str) -> Store:
    return Store.open(database_url)


def _quarantine(store: Store, import_id: int) -> dict[int, tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(QuarantineRow.row_number, QuarantineRow.field,
                                   QuarantineRow.reason).where(
            QuarantineRow.import_id == import_id)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def _event_keys(store: Store, tid: int) -> list[tuple[str, str | None, str]]:
    with store.engine.connect() as conn:
        return sorted(conn.execute(select(Event.customer_id, Event.item_id, Event.type).where(
            Event.tenant_id == tid)).all())  # type: ignore[arg-type]


def test_bad_event_rows_are_quarantined_with_row_field_reason(store: Store) -> None:
    tid = store.tenants.ensure("bad")
    # something stored before the import must survive it
    store.events.add(tid, [{"customer_id": "old", "item_id": "x", "type": "view",
                            "ts": "2023-01-01T00:00:00Z", "idempotency_key": "k-old"}])
    result = run_import(store, tid, "events", BAD / "events.csv")
    r = result.report
    assert (r.rows_read, r.rows_loaded, r.rows_rejected, r.blank_lines) == (10, 3, 7, 1)
    assert r.rows_read == r.rows_loaded + r.rows_duplicate + r.rows_rejected
    q = _quarantine(store, result.import_id)
    assert sorted(q) == [2, 3, 4, 5, 6, 7, 8]
    assert q[2] == ("customer_id", "missing customer id (policy: reject)")
    assert q[3][0] == "value" and "'abc' is not a number" in q[3][1]
    assert q[4] == ("type", "unknown event type 'teleport'")
    assert q[5][0] == "timestamp" and "in the future" in q[5][1]
    assert q[6][0] == "_row" and "broken quoting" in q[6][1]
    assert q[7] == ("_row", "expected 6 fields, found 5")
    assert q[8][0] == "timestamp" and "'not-a-date'" in q[8][1]
    assert _event_keys(store, tid) == [("c1", "i1", "purchase"), ("c8", "i8", "rating"),
                                       ("c9", "i9, deluxe", "purchase"), ("old", "x", "view")]
    stored = {e.customer_id: e for e in store.events.for_customer(tid, "c8")}
    assert stored["c8"].ts.isoformat() == "2024-01-06T08:30:00+00:00"
    assert stored["c8"].attributes == {"channel": "app"}
    assert store.events.for_customer(tid, "c9")[0].attributes == {"channel": 'web "shop"'}
    # the run and its report are stored
    with store.engine.connect() as conn:
        run = conn.execute(select(ImportRun).where(ImportRun.id == result.import_id)).one()
    assert (run.rows_read, run.rows_loaded, run.rows_rejected) == (10, 3, 7)
    assert run.report["errors_by_field"]["_row"] == 2


def test_reimport_changes_nothing(store: Store) -> None:
    tid = store.tenants.ensure("again")
    first = run_import(store, tid, "events", BAD / "events.csv").report
    before = _event_keys(store, tid)
    second = run_import(store, tid, "events", BAD / "events.csv").report
    assert _event_keys(store, tid) == before
    assert (second.rows_loaded, second.rows_duplicate) == (0, first.rows_loaded)
    assert second.rows_rejected == first.rows_rejected


def test_bad_encoding_names_row_and_column(store: Store) -> None:
    tid = store.tenants.ensure("enc")
    result = run_import(store, tid, "events", BAD / "events_encoding.csv")
    q = _quarantine(store, result.import_id)
    assert list(q) == [2]
    assert q[2][0] == "item_id" and "\\xff" in q[2][1] and "utf-8" in q[2][1]
    assert [k[0] for k in _event_keys(store, tid)] == ["c1", "c3"]
    assert store.events.for_customer(tid, "c3")[0].attributes == {"channel": "café"}


def test_wrong_types_and_missing_ids_of_customers(store: Store) -> None:
    tid = store.tenants.ensure("cust")
    mapping = load_mapping(BAD / "customers.toml")
    result = run_import(store, tid, "customers", BAD / "customers.csv", mapping)
    q = _quarantine(store, result.import_id)
    assert {row: field for row, (field, _) in q.items()} == {
        2: "age", 3: "vip", 4: "segment", 5: "customer_id", 6: "signup"}
    assert "'old' is not an integer" in q[2][1]
    assert "'platinum' is not one of" in q[4][1]
    a1 = store.customers.get(tid, "a1")
    assert a1.attributes == {"age": 34, "vip": True, "segment": "gold", "signup": "2023-02-01"}
    assert store.customers.get(tid, "a7").attributes == {"age": 45, "vip": True,
                                                         "segment": "bronze"}
    assert {f.name for f in store.fields.list(tid, "customer")} == {"age", "vip", "segment",
                                                                     "signup"}


def test_jsonl_bad_lines(store: Store) -> None:
    tid = store.tenants.ensure("jsonl")
    result = run_import(store, tid, "events", BAD / "events.jsonl")
    q = _quarantine(store, result.import_id)
    assert {row: field for row, (field, _) in q.items()} == {2: "_row", 3: "_row", 5: "value"}
    assert "not an object" in q[3][1]
    assert [k[:2] for k in _event_keys(store, tid)] == [("c1", "i1"), ("c4", None)]
    assert result.report.blank_lines == 1


def test_empty_file_is_a_clear_error_and_changes_nothing(store: Store) -> None:
    tid = store.tenants.ensure("empty")
    with pytest.raises(ValidationError, match="empty"):
        run_import(store, tid, "events", BAD / "empty.csv")
    with store.engine.connect() as conn:
        assert conn.execute(select(ImportRun.id)).first() is None


def test_quarantine_export_csv_and_jsonl(store: Store, tmp_path: Path) -> None:
    tid = store.tenants.ensure("export")
    result = run_import(store, tid, "events", BAD / "events.csv")
    n_csv = export_quarantine(store, tid, tmp_path / "q.csv", result.import_id)
    n_jsonl = export_quarantine(store, tid, tmp_path / "q.jsonl", result.import_id)
    assert n_csv == n_jsonl == 7
    with (tmp_path / "q.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["row_number"]) for r in rows] == [2, 3, 4, 5, 6, 7, 8]
    assert json.loads(rows[1]["raw"])["value"] == "abc"
    lines = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert lines[4]["raw"] == {"_line": 'c5,"i5,view,1,2024-01-05T14:00:00Z,web'}
