"""Parquet and JSONL sources: typed values go through the same cleaning as CSV text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd

from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store


def test_parquet_events_with_typed_columns(sqlite_url: str, tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "customer_id": [101, 102, 103, None],
        "item_id": ["a", "b", "a", "c"],
        "type": ["purchase", "view", "nope", "view"],
        "value": [2.0, None, 1.0, 1.0],
        "timestamp": pd.to_datetime(["2024-03-01 10:00", "2024-03-02 11:00",
                                     "2024-03-03 12:00", "2024-03-04 13:00"], utc=True),
        "vip": [True, False, True, False],
    })
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    store = Store.open(sqlite_url)
    tid = store.tenants.ensure("pq")
    report = run_import(store, tid, "events", path, chunk_rows=2).report
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (4, 2, 2)
    assert report.errors_by_field == {"type": 1, "customer_id": 1}
    event = store.events.for_customer(tid, "101")[0]
    assert (event.item_id, event.type, event.value) == ("a", "purchase", 2.0)
    assert event.ts.isoformat() == "2024-03-01T10:00:00+00:00"
    assert event.attributes == {"vip": "true"}  # a new field defaults to string
    again = run_import(store, tid, "events", path).report
    assert (again.rows_loaded, again.rows_duplicate) == (0, 2)


def test_gzipped_jsonl_items_with_list_categories(sqlite_url: str, tmp_path: Path) -> None:
    lines = [{"item_id": "i1", "title": " Lamp ", "categories": ["home", "light"], "price": 9.5},
             {"item_id": "i2", "title": "Desk", "categories": "home|office", "price": "12"},
             {"item_id": "i3", "title": "Bad", "price": "cheap"}]
    path = tmp_path / "items.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(json.dumps(x) for x in lines).encode()))
    store = Store.open(sqlite_url)
    tid = store.tenants.ensure("jl")
    report = run_import(store, tid, "items", path).report
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    lamp, desk = store.items.get(tid, "i1"), store.items.get(tid, "i2")
    assert (lamp.title, lamp.categories, lamp.price) == ("Lamp", ["home", "light"], 9.5)
    assert (desk.categories, desk.price) == (["home", "office"], 12.0)
