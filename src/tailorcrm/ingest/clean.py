"""Cleaning of one chunk into rows of the store: ids, types, timestamps, returns, attributes.

Every step is vectorized over the chunk; a value that fails rejects its row with the field and
the reason (see ``ChunkColumns.reject``), and the good rows go on. The policies (anonymous
customers, returns, identical rows) are the mapping's and are described in ``docs/ingest.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from collections.abc import Mapping as TypingMapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tailorcrm.errors import ConfigError
from tailorcrm.ingest.chunks import Chunk, RowErrors
from tailorcrm.ingest.coerce import coerce_field, to_boolean, to_list, to_timestamp
from tailorcrm.ingest.columns import ChunkColumns
from tailorcrm.ingest.jsonrows import json_objects
from tailorcrm.ingest.keys import OccurrenceCounter, content_hashes
from tailorcrm.ingest.mapping import AttributeSpec, Mapping
from tailorcrm.schema.fields import FieldSpec
from tailorcrm.schema.ids import normalize_ids
from tailorcrm.schema.time_window import EARLIEST_EVENT_TIME
from tailorcrm.store.customers import parse_consent

CONSENT_COLUMNS = ("consent_personalization", "consent_marketing", "consent_profiling")


@dataclass
class CleanChunk:
    """The outcome of cleaning one chunk.

    ``rows`` holds the good rows in the shape the bulk writers take (see ``store/bulk.py``);
    ``customers``/``items`` the records an events import creates; ``errors`` every problem.
    """

    rows: pd.DataFrame
    errors: RowErrors
    rejected: int
    customers: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    counters: dict[str, int] = field(default_factory=dict)
    column_nulls: dict[str, int] = field(default_factory=dict)


def used_columns(mapping: Mapping) -> set[str]:
    """Every source column the mapping reads (to check them against the file's header)."""
    from tailorcrm.ingest.expr import referenced_columns

    cols: set[str | None] = set(mapping.fields.values())
    cols |= {a.column for a in mapping.attributes}
    for expression in mapping.derive.values():
        cols |= set(referenced_columns(expression))
    if mapping.categories:
        cols |= {*mapping.categories.flags, mapping.categories.column}
    if mapping.event_type:
        cols.add(mapping.event_type.column)
    if mapping.returns:
        cols |= {mapping.returns.prefix_column, mapping.returns.negative_column}
    create = mapping.create
    cols |= {a.column for a in create.customer_attributes}
    cols |= {create.item_title, create.item_price, mapping.anonymous_key}
    return {c for c in cols if c is not None} - set(mapping.derive)


class Cleaner:
    """Cleans the chunks of one import with one mapping.

    Parameters
    ----------
    mapping:
        The mapping.
    specs:
        The custom field of each attribute (``AttributeSpec.field`` -> spec), as the tenant has
        it (declared by the mapping and created when missing).
    event_types:
        Names of the tenant's event types.
    now:
        The time future timestamps are judged against.
    """

    def __init__(self, mapping: Mapping, specs: TypingMapping[str, FieldSpec],
                 event_types: Collection[str], now: dt.datetime) -> None:
        self.mapping = mapping
        self.specs = specs
        self.event_types = set(event_types)
        self.latest = pd.Timestamp(now).tz_convert("UTC") + pd.Timedelta(
            hours=mapping.future_tolerance_hours)
        self._occurrences = OccurrenceCounter()
        if mapping.returns and mapping.returns.type not in self.event_types:
            raise ConfigError(f"returns type {mapping.returns.type!r} is not an event type "
                              f"of this tenant ({sorted(self.event_types)})")

    # -- shared -------------------------------------------------------------------------
    def _attributes(self, cols: ChunkColumns, attributes: tuple[AttributeSpec, ...]
                    ) -> dict[str, pd.Series]:
        out: dict[str, pd.Series] = {}
        for attr in attributes:
            text = cols.text(attr.column)
            if attr.map:
                text = text.replace({k: str(v) for k, v in attr.map.items()})
            spec = self.specs[attr.field]
            values = cols.take(coerce_field(spec, text, attr.format, self.mapping.timezone),
                               attr.column, attr.field)
            if spec.required:
                cols.reject(values.isna().to_numpy(bool) & ~cols.bad, attr.field,
                            "required value is missing")
            out[attr.field] = values
        return out

    def _finish(self, cols: ChunkColumns, data: dict[str, object],
                customers: pd.DataFrame | None = None,
                items: pd.DataFrame | None = None) -> CleanChunk:
        good = ~cols.bad
        frame = pd.DataFrame({k: (v[good] if isinstance(v, pd.Series) else v)
                              for k, v in data.items()}, index=cols.index[good])
        nulls = {c: int(cols.chunk.frame[c].isna().sum() + (cols.chunk.frame[c] == "").sum())
                 for c in cols.chunk.frame.columns}
        return CleanChunk(rows=frame.reset_index(drop=True), errors=cols.errors(),
                          rejected=cols.rejected_rows(), column_nulls=nulls,
                          customers=customers, items=items)

    def _required_id(self, cols: ChunkColumns, name: str) -> pd.Series:
        ids = cols.text(self.mapping.fields[name])
        cols.reject(ids.isna().to_numpy(bool), name, f"missing {name.replace('_', ' ')}")
        return self._checked_ids(cols, ids, name)

    @staticmethod
    def _checked_ids(cols: ChunkColumns, ids: pd.Series, name: str) -> pd.Series:
        """Ids in their canonical form (the API's rule); refused ones reject their rows."""
        normalized, bad, reasons = normalize_ids(ids)
        cols.reject(bad, name, reasons)
        return normalized

    # -- entities -----------------------------------------------------------------------
    def clean(self, chunk: Chunk) -> CleanChunk:
        """Clean one chunk of the mapping's entity."""
        cols = ChunkColumns(chunk, self.mapping)
        if self.mapping.entity == "customers":
            return self._customers(cols)
        if self.mapping.entity == "items":
            return self._items(cols)
        return self._events(cols)

    def _customers(self, cols: ChunkColumns) -> CleanChunk:
        ids = self._required_id(cols, "customer_id")
        attrs = self._attributes(cols, self.mapping.attributes)
        data: dict[str, object] = {"customer_id": ids}
        for name in CONSENT_COLUMNS:
            if name in self.mapping.fields:
                data[name] = self._consent(cols, name)
        good = ~cols.bad
        result = self._finish(cols, data)
        result.rows["attributes"] = json_objects(
            {k: v[good] for k, v in attrs.items()}, int(good.sum())).to_numpy(zero_copy_only=False)
        return result

    def _consent(self, cols: ChunkColumns, name: str) -> pd.Series:
        """A consent column as granted/denied/unknown (blank is unknown); others rejected."""
        raw = cols.text(self.mapping.fields[name])
        states: dict[str, str | None] = {}
        for value in raw.dropna().unique():
            try:
                states[value] = parse_consent(value)
            except ValueError:
                states[value] = None
        mapped = raw.map(states)
        bad = raw.notna() & mapped.isna()
        cols.reject(bad.to_numpy(bool), name,
                    [f"{v!r} is not a consent state (granted, denied, unknown)"
                     for v in raw[bad]])
        return mapped.astype(object).where(mapped.notna(), "unknown")

    def _items(self, cols: ChunkColumns) -> CleanChunk:
        m = self.mapping
        ids = self._required_id(cols, "item_id")
        n = len(cols.index)
        data: dict[str, object] = {"item_id": ids}
        for name in ("title", "description"):
            data[name] = cols.text(m.fields[name]).fillna("") if name in m.fields else \
                str(m.constants.get(name, ""))
        data["price"] = cols.number(m.fields["price"], "price") if "price" in m.fields else \
            float(m.constants["price"]) if "price" in m.constants else np.nan
        if "available" in m.fields:
            data["available"] = cols.take(to_boolean(cols.text(m.fields["available"])),
                                          m.fields["available"], "available").fillna(True)
        else:
            data["available"] = bool(m.constants.get("available", True))
        categories: pd.Series = pd.Series([[] for _ in range(n)], index=cols.index, dtype=object)
        if m.categories and m.categories.column:
            split = to_list(cols.text(m.categories.column), m.categories.separator).values
            categories = split.where(split.notna(), categories)
        if m.categories:
            for flag in m.categories.flags:
                on = cols.take(to_boolean(cols.text(flag)), flag, "categories").fillna(False)
                for i in np.flatnonzero(on.to_numpy(bool)).tolist():
                    categories.iat[i] = [*categories.iat[i], flag]  # type: ignore[misc,assignment]
        data["categories"] = categories
        attrs = self._attributes(cols, m.attributes)
        good = ~cols.bad
        result = self._finish(cols, data)
        result.rows["categories"] = json_objects({"c": categories[good]}, int(good.sum())) \
            .to_numpy(zero_copy_only=False)
        result.rows["categories"] = result.rows["categories"].str.slice(5, -1)
        result.rows["attributes"] = json_objects({k: v[good] for k, v in attrs.items()},
                                                 int(good.sum())).to_numpy(zero_copy_only=False)
        return result

    def _events(self, cols: ChunkColumns) -> CleanChunk:
        m = self.mapping
        n = len(cols.index)
        counters: dict[str, int] = {}
        # customer: missing ones are anonymous (one id per anonymous_key value) or rejected
        customer = self._checked_ids(cols, cols.text(m.fields["customer_id"]), "customer_id")
        missing = customer.isna().to_numpy(bool)
        if m.missing_customer == "reject":
            cols.reject(missing, "customer_id", "missing customer id (policy: reject)")
        elif missing.any():
            anonymous = pd.Series(m.anonymous_id, index=cols.index, dtype="str")
            if m.anonymous_key:
                key = cols.text(m.anonymous_key)
                anonymous = anonymous.where(key.isna(), m.anonymous_id + ":" + key)
            customer = customer.where(~missing, anonymous)
            counters["anonymous"] = int((missing & ~cols.bad).sum())
        item = self._checked_ids(cols, cols.text(m.fields["item_id"]), "item_id") \
            if "item_id" in m.fields else pd.Series(None, index=cols.index, dtype="str")
        # type: a constant or a mapped column; it must be in the tenant's catalog
        spec = m.event_type
        assert spec is not None  # checked by the mapping
        if spec.constant is not None:
            types = pd.Series(spec.constant, index=cols.index, dtype="str")
        else:
            raw_type = cols.text(spec.column or "")
            types = raw_type.replace(spec.map) if spec.map else raw_type
        unknown = ~types.isin(list(self.event_types)).to_numpy(bool)
        if unknown.any():
            cols.reject(unknown, "type", [f"unknown event type {t!r}" if isinstance(t, str)
                                          else "missing event type"
                                          for t in types[unknown].tolist()])
        value = cols.number(m.fields["value"], "value") if "value" in m.fields else \
            pd.Series(float(m.constants.get("value", np.nan)), index=cols.index)
        attrs = self._attributes(cols, m.attributes)
        if m.returns:
            value, attrs, types, counters["returns"] = self._returns(cols, value, attrs, types)
        stamp_text = cols.text(m.fields["timestamp"]) if "timestamp" in m.fields else \
            pd.Series(str(m.constants["timestamp"]), index=cols.index, dtype="str")
        stamp = to_timestamp(stamp_text, m.timestamp_format, m.timezone)
        ts = cols.take(stamp, m.fields.get("timestamp", "timestamp"), "timestamp")
        cols.reject(ts.isna().to_numpy(bool) & ~stamp.bad, "timestamp", "missing timestamp")
        future = (ts > self.latest).fillna(False).to_numpy(bool)
        if future.any():
            cols.reject(future, "timestamp", [
                f"{t.isoformat()} is in the future (after now + {m.future_tolerance_hours:g} h)"
                for t in ts[future]])
        early = (ts < pd.Timestamp(EARLIEST_EVENT_TIME)).fillna(False).to_numpy(bool)
        if early.any():
            cols.reject(early, "timestamp", [
                f"{t.isoformat()} is before {EARLIEST_EVENT_TIME.date().isoformat()}"
                for t in ts[early]])
        keys = self._keys(cols)
        customers = self._created_customers(cols, customer, missing) if m.create.customers \
            else None
        items = self._created_items(cols, item, types) if m.create.items else None
        good = ~cols.bad  # after the created records' own values, which may reject rows
        result = self._finish(cols, {"idempotency_key": keys, "customer_id": customer,
                                     "item_id": item, "type": types, "value": value, "ts": ts},
                              customers=customers, items=items)
        result.rows["attributes"] = json_objects({k: v[good] for k, v in attrs.items()},
                                                 int(good.sum())).to_numpy(zero_copy_only=False)
        result.counters = counters
        del n
        return result

    def _returns(self, cols: ChunkColumns, value: pd.Series, attrs: dict[str, pd.Series],
                 types: pd.Series) -> tuple[pd.Series, dict[str, pd.Series], pd.Series, int]:
        rule = self.mapping.returns
        assert rule is not None
        is_return = np.zeros(len(cols.index), dtype=bool)
        if rule.prefix_column:
            is_return |= cols.text(rule.prefix_column).str.startswith(rule.prefix) \
                .fillna(False).to_numpy(bool)
        if rule.negative_column:
            is_return |= (cols.number(rule.negative_column, rule.negative_column) < 0) \
                .fillna(False).to_numpy(bool)
        types = types.mask(is_return, rule.type)
        if "value" in rule.absolute:
            value = value.mask(is_return, value.abs())
        for name in rule.absolute:
            if name in attrs and pd.api.types.is_numeric_dtype(attrs[name].dtype):
                attrs[name] = attrs[name].mask(is_return, attrs[name].abs())
        return value, attrs, types, int((is_return & ~cols.bad).sum())

    def _keys(self, cols: ChunkColumns) -> pd.Series:
        m = self.mapping
        if "idempotency_key" in m.fields:
            keys = cols.text(m.fields["idempotency_key"])
            cols.reject(keys.isna().to_numpy(bool), "idempotency_key", "missing idempotency key")
            return keys
        hashed = content_hashes(cols.chunk)
        if m.keep_identical_rows:
            hashed = self._occurrences.suffixed(hashed)
        return pd.Series(hashed, index=cols.index, dtype="str")

    def _created_customers(self, cols: ChunkColumns, customer: pd.Series,
                           anonymous: np.ndarray) -> pd.DataFrame:
        attrs = self._attributes(cols, self.mapping.create.customer_attributes)
        keep = ~cols.bad & ~anonymous
        frame = pd.DataFrame({"customer_id": customer[keep]})
        first = ~frame["customer_id"].duplicated().to_numpy(bool)
        frame = frame[first]
        picked = {k: v[keep][first] for k, v in attrs.items()}
        frame["attributes"] = json_objects(picked, len(frame)).to_numpy(zero_copy_only=False)
        return frame.reset_index(drop=True)

    def _created_items(self, cols: ChunkColumns, item: pd.Series,
                       types: pd.Series) -> pd.DataFrame:
        create = self.mapping.create
        keep = ~cols.bad & item.notna().to_numpy(bool)
        title = cols.text(create.item_title).fillna("") if create.item_title else \
            pd.Series("", index=cols.index, dtype="str")
        price = cols.number(create.item_price, "price") if create.item_price else \
            pd.Series(np.nan, index=cols.index)
        frame = pd.DataFrame({"item_id": item, "title": title, "price": price,
                              "usable": (title != "") & (price > 0) & (types != "return")})
        frame = frame[keep].sort_values("usable", ascending=False, kind="stable")
        frame = frame.drop_duplicates("item_id").drop(columns="usable")
        frame["price"] = frame["price"].where(frame["price"] > 0)
        return frame.reset_index(drop=True)
