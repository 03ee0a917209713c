"""Export one tenant's customers, items and events as Parquet files, events streamed in parts.

The scale-out path (:mod:`tailorcrm.spark`) reads a tenant from Parquet: a cluster reads files
from shared storage (HDFS, S3, GCS, ADLS, or a local folder in ``local[*]`` mode) in parallel,
without holding connections to the source-of-truth database for the length of a job. Events,
the large table, are read by key ranges of ``id`` (``id > last ORDER BY id LIMIT n``) and each
range becomes one Parquet part, so memory stays bounded by ``part_rows`` whatever the tenant's
size. The same time window as :func:`tailorcrm.store.loader.read_events` applies: an event
whose time is missing or outside the accepted window is left out, as training leaves it out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from tailorcrm.schema.event_types import EventType
from tailorcrm.schema.fields import FieldSpec
from tailorcrm.schema.time_window import latest_event_time, outside_window
from tailorcrm.store.loader import _flatten, read_customers, read_items
from tailorcrm.store.tables import Event

log = logging.getLogger(__name__)

PART_ROWS = 1_000_000
EVENTS_SCHEMA = pa.schema([("customer_id", pa.string()), ("item_id", pa.string()),
                           ("type", pa.string()), ("value", pa.float64()),
                           ("ts", pa.timestamp("us", tz="UTC")), ("id", pa.int64())])
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Export:
    """Where an export went and what it holds."""

    folder: Path
    customers: int
    items: int
    events: int
    event_parts: int

    @property
    def customers_path(self) -> Path:
        return self.folder / "customers.parquet"

    @property
    def items_path(self) -> Path:
        return self.folder / "items.parquet"

    @property
    def events_path(self) -> Path:
        return self.folder / "events"


def _attributes_json(frame: pd.DataFrame, base: list[str]) -> pd.DataFrame:
    """Built-in columns as they are, custom attributes as one JSON string column (Parquet
    needs one type per column; the attribute columns are typed again on the Spark side from
    the field specs in the manifest)."""
    extra = [c for c in frame.columns if c not in base]
    out = frame[base].copy()
    out["attributes"] = [json.dumps({k: _plain(v) for k, v in row.items() if _present(v)})
                         for row in frame[extra].to_dict("records")] if extra else "{}"
    return out


def _present(value: Any) -> bool:
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and dicts
        return True


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def export_tenant(engine: Engine, tid: int, folder: str | Path, fields: list[FieldSpec],
                  event_types: list[EventType], *, part_rows: int = PART_ROWS) -> Export:
    """Write ``customers.parquet``, ``items.parquet``, ``events/part-*.parquet`` and a
    ``manifest.json`` (counts, field specs, event-type catalog) into ``folder``."""
    out = Path(folder)
    (out / "events").mkdir(parents=True, exist_ok=True)
    for old in (out / "events").glob("part-*.parquet"):
        old.unlink()
    customer_fields = [f for f in fields if f.entity == "customer"]
    item_fields = [f for f in fields if f.entity == "item"]
    with engine.connect() as conn:
        customers = read_customers(conn, tid, customer_fields).reset_index()
        items = read_items(conn, tid, item_fields).reset_index()
    customers = _attributes_json(customers, ["customer_id", "consent_personalization",
                                             "consent_marketing"])
    items = _attributes_json(items, ["item_id", "title", "description", "categories",
                                     "price", "available"])
    pq.write_table(pa.Table.from_pandas(customers, preserve_index=False),
                   out / "customers.parquet")
    pq.write_table(pa.Table.from_pandas(items, preserve_index=False), out / "items.parquet")
    events, parts = _export_events(engine, tid, out / "events", part_rows)
    manifest = {"tenant_id": tid, "customers": len(customers), "items": len(items),
                "events": events, "event_parts": parts,
                "fields": [f.model_dump(mode="json") for f in fields],
                "event_types": [t.model_dump(mode="json") for t in event_types]}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    log.info("tenant %d exported to %s: %d customers, %d items, %d events in %d parts",
             tid, out, len(customers), len(items), events, parts)
    return Export(out, len(customers), len(items), events, parts)


def _export_events(engine: Engine, tid: int, folder: Path, part_rows: int) -> tuple[int, int]:
    """Stream the events by ``id`` ranges into Parquet parts; returns (events, parts)."""
    cols = (Event.customer_id, Event.item_id, Event.type, Event.value, Event.ts, Event.id)
    latest = pd.Timestamp(latest_event_time())
    last, total, parts = 0, 0, 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(select(*cols).where(Event.tenant_id == tid, Event.id > last)
                                .order_by(Event.id).limit(part_rows)).all()
        if not rows:
            break
        last = int(rows[-1][5])
        frame = pd.DataFrame(rows, columns=[c.name for c in cols])
        ts = pd.to_datetime(frame["ts"], utc=True, errors="coerce")
        keep = ~(ts.isna() | outside_window(ts, latest))
        frame = frame.assign(ts=ts.astype("datetime64[us, UTC]"),
                             value=pd.to_numeric(frame["value"], errors="coerce"))[keep]
        table = pa.Table.from_pandas(frame, schema=EVENTS_SCHEMA, preserve_index=False)
        pq.write_table(table, folder / f"part-{parts:05d}.parquet")
        total += len(frame)
        parts += 1
    if parts == 0:  # an empty tenant still gets a part, so readers find the schema
        pq.write_table(EVENTS_SCHEMA.empty_table(), folder / "part-00000.parquet")
        parts = 1
    return total, parts


def from_export(frame: pd.DataFrame, specs: list[FieldSpec], key: str) -> pd.DataFrame:
    """Exported rows (``attributes`` as JSON text) as the Dataset holds them: indexed by
    ``key``, built-in columns, then one typed column per custom attribute (the inverse of
    the export, with the loader's own typing)."""
    out = frame.copy()
    out["attributes"] = [json.loads(a) if isinstance(a, str) and a else {}
                         for a in out.get("attributes", pd.Series([""] * len(out)))]
    if "categories" in out:
        out["categories"] = [list(c) if c is not None and not isinstance(c, str) else []
                             for c in out["categories"]]
    return _flatten(out.set_index(key), specs)
