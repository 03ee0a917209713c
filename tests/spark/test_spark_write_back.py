"""The bulk write-back and the Parquet export on SQLite and PostgreSQL (real servers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tailorcrm.store import Store
from tailorcrm.store.bulk_results import BulkResults
from tailorcrm.store.parquet_export import export_tenant


@pytest.mark.parametrize("chunk_rows", [1, 1000])
def test_bulk_lists_replace_whole_and_skip_erased(database_url: str, tmp_path: Path,
                                                  chunk_rows: int) -> None:
    store = Store.open(database_url, artifacts_dir=tmp_path / "a")
    tid = store.tenants.ensure("acme")
    store.customers.upsert(tid, [{"customer_id": f"c{i}"} for i in range(5)])
    store.recommendations.replace(tid, "default", [
        {"customer_id": "old", "items": [], "model_version": "v0", "config_hash": "h0"}])
    watermark = store.tombstones.watermark(tid)
    store.erase_customer(tid, "c3")
    rows = ({"customer_id": f"c{i}", "items": [{"item_id": f"i{i}", "score": 1.0,
                                                "reasons": []}],
             "model_version": "v1", "config_hash": "h1"} for i in range(5))
    stored = BulkResults(store.engine, store.tombstones).replace_lists(
        tid, "default", rows, erased_after=watermark, chunk_rows=chunk_rows)
    assert stored == 4
    assert store.recommendations.get(tid, "default", "old") is None
    assert store.recommendations.get(tid, "default", "c3") is None
    got = store.recommendations.get(tid, "default", "c4")
    assert got is not None and got.items[0]["item_id"] == "i4"
    assert not got.is_stale("v1", "h1")
    store.close()


def test_export_streams_events_in_parts(database_url: str, tmp_path: Path) -> None:
    store = Store.open(database_url, artifacts_dir=tmp_path / "a")
    tid = store.tenants.ensure("acme")
    store.events.add(tid, [{"customer_id": f"c{i % 7}", "item_id": f"i{i % 5}",
                            "type": "purchase", "ts": f"2024-03-{1 + i % 28:02d}T12:00:00Z"}
                           for i in range(25)])
    out = export_tenant(store.engine, tid, tmp_path / "export", store.fields.list(tid),
                        store.event_types.list(tid), part_rows=10)
    assert (out.events, out.event_parts, out.customers, out.items) == (25, 3, 7, 5)
    events = pd.read_parquet(out.events_path)
    assert len(events) == 25 and set(events["customer_id"]) == {f"c{i}" for i in range(7)}
    store.close()
