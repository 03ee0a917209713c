"""Reading one tenant's data into a :class:`~tailorcrm.data.dataset.Dataset`, column-wise."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Connection, String, select, type_coerce

from tailorcrm.data.dataset import Dataset
from tailorcrm.schema.event_types import EventType
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.store.tables import Customer, Event, Item


def _flatten(frame: pd.DataFrame, specs: Sequence[FieldSpec]) -> pd.DataFrame:
    """Spread the ``attributes`` dicts into one column per key, typed by the field specs."""
    attrs = frame.pop("attributes")
    records = [a if isinstance(a, dict) else {} for a in attrs]
    flat = pd.DataFrame.from_records(records, index=frame.index) if records else pd.DataFrame(
        index=frame.index)
    for spec in specs:
        if spec.name not in flat:
            flat[spec.name] = None
        flat[spec.name] = _typed(flat[spec.name], spec)
    flat = flat[[c for c in flat.columns if c not in frame.columns]]
    return pd.concat([frame, flat], axis=1)


def _typed(col: pd.Series, spec: FieldSpec) -> pd.Series:
    """A column in the dtype its field type calls for (numbers float, dates UTC datetimes)."""
    if spec.type in (FieldType.INTEGER, FieldType.NUMBER):
        return pd.to_numeric(col, errors="coerce").astype(float)
    if spec.type in (FieldType.DATE, FieldType.DATETIME):
        return pd.to_datetime(col, utc=True, errors="coerce", format="ISO8601")
    if spec.type is FieldType.BOOLEAN:
        return col.astype("boolean")
    return col.astype(object).where(col.notna(), None)


def read_customers(conn: Connection, tid: int, specs: Sequence[FieldSpec]) -> pd.DataFrame:
    """Customers indexed by ``customer_id``: consent columns, then one column per attribute."""
    rows = conn.execute(select(
        Customer.customer_id, Customer.consent_personalization, Customer.consent_marketing,
        Customer.attributes,
    ).where(Customer.tenant_id == tid).order_by(Customer.customer_id)).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "consent_personalization",
                                        "consent_marketing", "attributes"])
    frame = frame.set_index("customer_id")
    return _flatten(frame, specs)


def read_items(conn: Connection, tid: int, specs: Sequence[FieldSpec]) -> pd.DataFrame:
    """Items by ``item_id``: title, description, categories, price, available, attributes."""
    rows = conn.execute(select(
        Item.item_id, Item.title, Item.description, Item.categories, Item.price, Item.available,
        Item.attributes,
    ).where(Item.tenant_id == tid).order_by(Item.item_id)).all()
    frame = pd.DataFrame(rows, columns=["item_id", "title", "description", "categories",
                                        "price", "available", "attributes"])
    frame = frame.set_index("item_id")
    frame["categories"] = [c if isinstance(c, list) else [] for c in frame["categories"]]
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype(float)
    frame["available"] = frame["available"].astype(bool)
    return _flatten(frame, specs)


def read_events(conn: Connection, tid: int) -> pd.DataFrame:
    """Events: customer_id, item_id, type, value (float), ts (UTC), in time order."""
    # SQLite stores datetimes as ISO text; parsing them in one vectorised pandas call is
    # much faster than SQLAlchemy's per-row datetime processor.
    ts = type_coerce(Event.ts, String) if conn.dialect.name == "sqlite" else Event.ts
    query = select(
        Event.customer_id, Event.item_id, Event.type, Event.value, ts.label("ts"),
    ).where(Event.tenant_id == tid).order_by(Event.ts, Event.id)
    frame = pd.read_sql(query, conn)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(np.float64)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601").astype(
        "datetime64[ns, UTC]")
    return frame


def load_dataset(conn: Connection, tid: int, fields: Sequence[FieldSpec],
                 event_types: Sequence[EventType]) -> Dataset:
    """The whole of one tenant's data as a Dataset (customers, items, events, schema)."""
    customer_fields = tuple(f for f in fields if f.entity == "customer")
    item_fields = tuple(f for f in fields if f.entity == "item")
    return Dataset(
        customers=read_customers(conn, tid, customer_fields),
        items=read_items(conn, tid, item_fields),
        events=read_events(conn, tid),
        customer_fields=customer_fields,
        item_fields=item_fields,
        event_types=tuple(event_types),
    )
