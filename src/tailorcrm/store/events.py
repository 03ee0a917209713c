"""Events of a tenant: idempotent batch inserts, per-customer history, erasure."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tailorcrm.errors import ValidationError
from tailorcrm.schema.fields import is_missing
from tailorcrm.schema.ids import canonical, id_problem
from tailorcrm.schema.time_window import event_time_problem
from tailorcrm.store.base import Repository, as_utc, rows_of, to_utc
from tailorcrm.store.configs import ConfigRepository
from tailorcrm.store.event_types import EventTypeRepository
from tailorcrm.store.fields import FieldRepository
from tailorcrm.store.records import EventRecord
from tailorcrm.store.tables import Customer, Event, Item, utcnow
from tailorcrm.store.tenant_settings import load_tenant_settings
from tailorcrm.store.tombstones import (
    SUPPRESSED_REASON,
    Hasher,
    TombstoneRepository,
    lock_erasures,
)
from tailorcrm.store.validation import RowErrors, split_row, validate_attributes

if TYPE_CHECKING:  # pandas loads when these functions run: light commands skip it
    import pandas as pd

BUILTIN = ("idempotency_key", "customer_id", "item_id", "type", "value", "ts", "timestamp")


def event_key(customer_id: str, item_id: str | None, type_: str, ts: Any,
              value: float | None) -> str:
    """A deterministic idempotency key for an event that came without one."""
    text = f"{customer_id}\x1f{item_id or ''}\x1f{type_}\x1f{ts.isoformat()}\x1f{value}"
    return "h:" + hashlib.sha1(text.encode()).hexdigest()


@dataclass(frozen=True)
class EventsAdded:
    """What one :meth:`EventRepository.add_counted` stored."""

    inserted: int
    duplicates: int
    customers_created: int = 0
    items_created: int = 0


class EventRepository(Repository):
    """Interactions, unique per (tenant, ``idempotency_key``)."""

    def __init__(self, engine: Any, fields: FieldRepository,
                 event_types: EventTypeRepository, configs: ConfigRepository,
                 tombstones: TombstoneRepository) -> None:
        super().__init__(engine)
        self._fields = fields
        self._event_types = event_types
        self._configs = configs
        self._tombstones = tombstones

    def add(self, tid: int, rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> tuple[int, int]:
        """:meth:`add_counted` without the counts of created records: ``(inserted, duplicates)``.
        """
        added = self.add_counted(tid, rows)
        return added.inserted, added.duplicates

    def add_counted(self, tid: int, rows: Iterable[Mapping[str, Any]] | pd.DataFrame
                    ) -> EventsAdded:
        """Insert events, skipping those whose idempotency key is stored already.

        A row gives ``customer_id``, ``type`` (from the tenant's catalog), ``ts`` (or
        ``timestamp``), and optionally ``item_id``, ``value``, ``idempotency_key`` (derived from
        the other values when absent) and custom values. All or nothing: a bad row raises
        ValidationError naming row, field and reason.

        A customer or item the tenant does not have yet is created with its fields' defaults
        (in the same transaction), unless the tenant's settings say ``unknown_references =
        "reject"``; an erased customer is never created again (the event is refused).

        Returns
        -------
        EventsAdded
            Inserted, duplicates, and the customers and items created for them.
        """
        specs = {f.name: f for f in self._fields.list(tid, "event")}
        types = self._event_types.names(tid)
        errors = RowErrors("event")
        records: dict[str, dict[str, Any]] = {}
        positions: dict[str, int] = {}
        n_rows = 0
        for i, row in enumerate(rows_of(rows)):
            n_rows += 1
            record = self._record(tid, i, row, specs, types, errors)
            if record is not None:
                records.setdefault(record["idempotency_key"], record)
                positions.setdefault(record["idempotency_key"], i)
        errors.raise_if_any()
        if not records:
            return EventsAdded(0, n_rows)
        new_customers, new_items = self._references(tid, records, positions, errors)
        errors.raise_if_any()
        insert = pg_insert if self.backend == "postgresql" else sqlite_insert
        stmt = insert(Event).on_conflict_do_nothing(
            index_elements=[Event.tenant_id, Event.idempotency_key]).returning(Event.id)
        hasher = self._tombstones.hasher(tid)  # cached: the transaction reads no secret
        with self._engine.begin() as conn:
            created = {"customers": 0, "items": 0}
            for table, key, new in ((Customer, "customer_id", new_customers),
                                    (Item, "item_id", new_items)):
                if new:
                    ref = insert(table).on_conflict_do_nothing(
                        index_elements=[table.tenant_id, getattr(table, key)]
                    ).returning(table.id)
                    created[f"{key[:-3]}s"] = len(conn.execute(ref, new).all())
            inserted = len(conn.execute(stmt, list(records.values())).all())
            self._refuse_erased_meanwhile(conn, tid, records, positions, hasher)
        return EventsAdded(inserted, n_rows - inserted, created["customers"], created["items"])

    def _refuse_erased_meanwhile(self, conn: Connection, tid: int,
                                 records: Mapping[str, Mapping[str, Any]],
                                 positions: Mapping[str, int], hasher: Hasher) -> None:
        """Roll the write back when a customer of the events was erased after the checks (an
        erasure committing meanwhile must not leave their new events behind)."""
        lock_erasures(conn, tid)
        erased = TombstoneRepository.suppressed_in(
            conn, tid, [str(r["customer_id"]) for r in records.values()], hasher)
        if not erased:
            return
        errors = RowErrors("event")
        for key, record in records.items():
            if record["customer_id"] in erased:
                errors.add(positions[key], key[:100], "customer_id", SUPPRESSED_REASON)
        errors.raise_if_any()

    def _references(self, tid: int, records: Mapping[str, Mapping[str, Any]],
                    positions: Mapping[str, int], errors: RowErrors,
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The customer and item rows to create for the events' unknown references; events
        whose reference may not be created go to ``errors``."""
        customers = {r["customer_id"] for r in records.values()}
        items = {r["item_id"] for r in records.values() if r["item_id"] is not None}
        missing_customers = customers - self._existing(Customer, Customer.customer_id, tid,
                                                       customers)
        missing_items = items - self._existing(Item, Item.item_id, tid, items)
        if not missing_customers and not missing_items:
            return [], []
        erased = self._tombstones.erased_among(tid, missing_customers)
        policy = load_tenant_settings(self._configs, tid).unknown_references
        problems: dict[tuple[str, str], str] = {
            ("customer_id", c): SUPPRESSED_REASON for c in erased}
        now = utcnow()
        new_customers: list[dict[str, Any]] = []
        new_items: list[dict[str, Any]] = []
        for entity, missing, out in (("customer", missing_customers - erased, new_customers),
                                     ("item", missing_items, new_items)):
            key = f"{entity}_id"
            if policy == "reject":
                problems.update({(key, m): f"unknown {entity} (the tenant refuses events for "
                                           f"unknown {entity}s)" for m in missing})
                continue
            specs = {f.name: f for f in self._fields.list(tid, entity)}
            for m in sorted(missing):
                defaults = RowErrors(entity)
                attributes = validate_attributes(specs, {}, row=0, row_id=m, errors=defaults,
                                                 new_row=True)
                if defaults.count:
                    first = defaults.errors[0]
                    problems[(key, m)] = (f"unknown {entity} cannot be created: field "
                                          f"{first['field']!r}: {first['reason']}")
                    continue
                out.append({"tenant_id": tid, key: m, "attributes": attributes,
                            "created_at": now, "updated_at": now})
        for event_key, record in records.items():
            for key in ("customer_id", "item_id"):
                reason = problems.get((key, record[key]))
                if reason is not None:
                    errors.add(positions[event_key], record["idempotency_key"], key,
                               f"{record[key]!r}: {reason}")
        return new_customers, new_items

    def _existing(self, table: Any, column: Any, tid: int, ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(ids))
        found: set[str] = set()
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                found |= set(conn.execute(select(column).where(
                    table.tenant_id == tid, column.in_(wanted[start:start + 500]))).scalars())
        return found

    def _record(self, tid: int, i: int, row: Mapping[str, Any], specs: Mapping[str, Any],
                types: set[str], errors: RowErrors) -> dict[str, Any] | None:
        base, attrs = split_row(row, BUILTIN)
        customer_id = base.get("customer_id")
        key = base.get("idempotency_key")
        label = None if is_missing(key) else str(key)
        before = errors.count
        customer = None
        if is_missing(customer_id):
            errors.add(i, label, "customer_id", "missing customer id")
        else:
            customer = canonical(customer_id)
            if (problem := id_problem(customer)) is not None:
                errors.add(i, label, "customer_id", problem)
        type_ = str(base.get("type") or "").strip()
        if type_ not in types:
            errors.add(i, label, "type", f"unknown event type {type_!r}")
        raw_ts = base.get("ts", base.get("timestamp"))
        ts = None
        try:
            ts = to_utc(raw_ts)
        except ValidationError as exc:
            errors.add(i, label, "ts", exc.message)
        else:
            if (problem := event_time_problem(ts)) is not None:
                errors.add(i, label, "ts", problem)
                ts = None
        value = base.get("value")
        try:
            value = None if value is None or is_missing(value) else float(value)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{base.get('value')!r} is not a finite number")
        except (TypeError, ValueError) as exc:
            errors.add(i, label, "value", str(exc))
        item_id = base.get("item_id")
        item_id = None if is_missing(item_id) else canonical(item_id)
        if item_id is not None and (problem := id_problem(item_id)) is not None:
            errors.add(i, label, "item_id", problem)
        attributes = validate_attributes(specs, attrs, row=i, row_id=label, errors=errors,
                                         new_row=True)
        if errors.count > before or ts is None or customer is None:
            return None
        return {
            "tenant_id": tid,
            "idempotency_key": label or event_key(customer, item_id, type_, ts, value),
            "customer_id": customer, "item_id": item_id, "type": type_, "value": value,
            "ts": ts, "attributes": attributes,
        }

    def for_customer(self, tid: int, customer_id: str, *, limit: int = 100,
                     types: Iterable[str] | None = None) -> list[EventRecord]:
        """A customer's events, newest first."""
        stmt = select(Event).where(Event.tenant_id == tid, Event.customer_id == customer_id)
        if types is not None:
            stmt = stmt.where(Event.type.in_(list(types)))
        stmt = stmt.order_by(Event.ts.desc(), Event.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).mappings()
            return [EventRecord(
                idempotency_key=r["idempotency_key"], customer_id=r["customer_id"],
                item_id=r["item_id"], type=r["type"], value=r["value"],
                ts=as_utc(r["ts"]), attributes=r["attributes"] or {}) for r in rows]

    def item_ids(self, tid: int) -> set[str]:
        """The distinct item ids the tenant's events name."""
        with self._engine.connect() as conn:
            seen = conn.execute(select(Event.item_id).where(Event.tenant_id == tid)
                                .distinct()).scalars().all()
        return {str(i) for i in seen if i is not None}

    def attributes_of_types(self, tid: int,
                            types: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(type, attributes)`` of every event of the given types, in one indexed scan.

        JSON accessors differ between SQLite and PostgreSQL, so attributes are read whole.
        """
        stmt = select(Event.type, Event.attributes).where(
            Event.tenant_id == tid, Event.type.in_(list(types)))
        with self._engine.connect() as conn:
            for type_, attributes in conn.execute(stmt):
                yield str(type_), dict(attributes or {})

    def count(self, tid: int) -> int:
        """How many events the tenant has."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Event).where(
                Event.tenant_id == tid)).scalar_one())

    def delete_matching(self, tid: int, *, keys: Iterable[str] | None = None,
                        customer_id: str | None = None, item_id: str | None = None,
                        type_: str | None = None, before: dt.datetime | None = None,
                        after: dt.datetime | None = None) -> int:
        """Delete the tenant's events that match every given criterion; returns how many.

        At least one criterion is required (deleting every event is not a filter). ``before``
        and ``after`` are exclusive bounds on the event time; an event whose stored time cannot
        be read at all (stored before times were checked) matches ``before``/``after`` never,
        so remove it by key.
        """
        clauses = [Event.tenant_id == tid]
        if keys is not None:
            key_list = [str(k) for k in keys]
            if not key_list:
                return 0
            clauses.append(Event.idempotency_key.in_(key_list))
        if customer_id is not None:
            clauses.append(Event.customer_id == canonical(customer_id))
        if item_id is not None:
            clauses.append(Event.item_id == canonical(item_id))
        if type_ is not None:
            clauses.append(Event.type == type_)
        if before is not None:
            clauses.append(Event.ts < to_utc(before))
        if after is not None:
            clauses.append(Event.ts > to_utc(after))
        if len(clauses) == 1:
            raise ValidationError("name at least one criterion of the events to delete")
        with self._engine.begin() as conn:
            result = conn.execute(delete(Event).where(*clauses))
        return int(result.rowcount or 0)
