"""Mappings that join several files: an order export in three tables, and the UCI restaurant
tables (ratings joined with places in Latin-1 and with user profiles)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tailorcrm.errors import ConfigError
from tailorcrm.ingest.mapping import Mapping, load_mapping
from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store
from tailorcrm.store.tables import QuarantineRow


def _write_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(
        "customer_id,country,segment\n"
        "C1,France,retail\n"
        "C2,Spain,wholesale\n", encoding="utf-8")
    (folder / "orders.csv").write_text(
        "order_id,customer_id,order_date,status\n"
        "O1,C1,2025-01-05T10:00:00Z,completed\n"
        "O2,C2,2025-01-06T11:00:00Z,completed\n"
        "O3,C3,2025-01-07T12:00:00Z,cancelled\n"   # C3 is not in customers.csv
        "O4,C1,2025-01-08T12:00:00Z,completed\n"
        "O4,C2,2025-01-08T13:00:00Z,completed\n", encoding="utf-8")  # O4 twice
    lines = folder / "order_lines.csv"
    lines.write_text(
        "order_id,line_no,product_id,product_name,quantity,unit_price\n"
        "O1,1,P1,Coffee beans,2,7.5\n"
        "O1,2,P2,Filter papers,1,2.0\n"
        "O2,1,P1,Coffee beans,10,7.0\n"
        "O3,1,P3,Grinder,1,45.0\n"
        "O9,1,P1,Coffee beans,1,7.5\n"    # no such order
        "O4,1,P2,Filter papers,3,2.0\n"   # ambiguous order
        ",1,P2,Filter papers,3,2.0\n", encoding="utf-8")  # no order id at all
    return lines


def _quarantine(store: Store, import_id: int) -> dict[int, list[tuple[str, str]]]:
    """Every problem of each quarantined row (a row whose join failed also lacks the joined
    values, so it may carry more than one)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(QuarantineRow.row_number, QuarantineRow.field,
                                   QuarantineRow.reason).where(
            QuarantineRow.import_id == import_id)).all()
    found: dict[int, list[tuple[str, str]]] = {}
    for row, field, reason in rows:
        found.setdefault(row, []).append((field, reason))
    return found


def test_an_order_export_in_three_tables_imports_with_the_shipped_mapping(
        database_url: str, tmp_path: Path) -> None:
    lines = _write_export(tmp_path / "export")
    store = Store.open(database_url)
    try:
        tid = store.tenants.ensure("shop")
        result = run_import(store, tid, "events", lines, load_mapping("orders-three-tables"))
        r = result.report
        assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (7, 4, 3)
        q = _quarantine(store, result.import_id)
        assert set(q) == {5, 6, 7}
        assert ("order_id", "no order_id 'O9' in orders.csv") in q[5]
        assert ("order_id", "order_id 'O4' appears more than once in orders.csv (rows 4, 5)"
                ) in q[6]
        assert ("order_id", "missing order_id (needed to join orders.csv)") in q[7]
        c1 = store.customers.get(tid, "C1")
        assert c1.attributes == {"country": "France", "segment": "retail"}
        assert store.customers.get(tid, "C3").attributes == {}  # optional join: kept, no data
        assert store.items.get(tid, "P3").title == "Grinder"
        events = {(e.item_id, e.type, e.value) for e in store.events.for_customer(tid, "C1")}
        assert events == {("P1", "purchase", 2.0), ("P2", "purchase", 1.0)}
        assert [(e.type, e.attributes["amount"]) for e in
                store.events.for_customer(tid, "C3")] == [("return", 45.0)]
        again = run_import(store, tid, "events", lines, load_mapping("orders-three-tables"))
        assert (again.report.rows_loaded, again.report.rows_duplicate) == (0, 4)
    finally:
        store.close()


def test_a_join_on_a_missing_column_is_a_clear_error(sqlite_url: str, tmp_path: Path) -> None:
    lines = _write_export(tmp_path / "export")
    mapping = Mapping.model_validate({
        "name": "bad", "entity": "events", "joins": [{"file": "orders.csv", "on": "order"}],
        "fields": {"customer_id": "customer_id", "timestamp": "order_date"},
        "event_type": {"constant": "purchase"}})
    store = Store.open(sqlite_url)
    try:
        tid = store.tenants.ensure("shop")
        with pytest.raises(ConfigError, match="no column 'order'"):
            run_import(store, tid, "events", lines, mapping)
        assert store.events.count(tid) == 0
    finally:
        store.close()


@pytest.mark.realdata
def test_uci_restaurant_ratings_join_places_and_profiles(data_dir: Path, database_url: str
                                                         ) -> None:
    folder = data_dir / "uci-restaurant-consumer"
    mapping = Mapping.model_validate({
        "name": "restaurant-ratings", "entity": "events",
        "joins": [
            # geoplaces2.csv is Latin-1 (one byte per accented letter) and writes "?" for none
            {"file": str(folder / "geoplaces2.csv"), "on": "placeID", "prefix": "place_",
             "drop": ["the_geom_meter"],
             "source": {"encoding": "latin-1", "null_values": ["", "?"]}},
            {"file": str(folder / "userprofile.csv"), "on": "userID", "prefix": "user_",
             "source": {"null_values": ["", "?"]}},
        ],
        "fields": {"customer_id": "userID", "item_id": "placeID", "value": "rating"},
        # the ratings file has no times: one time for all (the archive's date)
        "constants": {"timestamp": "2012-07-11T00:00:00Z"},
        "event_type": {"constant": "rating"},
        "create": {"customers": True, "items": True, "item_title": "place_name",
                   "customer_attributes": [
                       {"column": "user_budget", "field": "budget", "feature": True},
                       {"column": "user_smoker", "field": "smoker", "type": "boolean"}]},
    })
    store = Store.open(database_url)
    try:
        tid = store.tenants.ensure("restaurants")
        result = run_import(store, tid, "events", folder / "rating_final.csv", mapping)
        r = result.report
        assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1161, 1161, 0)
        assert store.customers.count(tid) == 138 and store.items.count(tid) == 130
        titles = {i.title for i in store.items.list(tid, limit=200)}
        assert any("é" in t or "ó" in t or "ñ" in t for t in titles)  # Latin-1 decoded
        budgets = {c.attributes.get("budget") for c in store.customers.list(tid, limit=200)}
        assert {"low", "medium", "high"} <= budgets
        data = store.load_dataset(tid)
        assert len(data.events) == 1161 and data.events["value"].between(0, 2).all()
    finally:
        store.close()
