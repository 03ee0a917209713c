"""The change feed: what changed in a tenant's data since a point (events, customers, erasures).

Serving keeps each tenant's precomputed lists and live events in memory; it polls this feed
(:meth:`ChangeFeed.mark`, a few indexed reads) at most once per interval instead of querying the
store on every request, and reads what changed only when a mark moved. :meth:`events_since` is
the one "events newer than X" query of the code base (fold-in, serving, jobs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from tailorcrm.schema.time_window import latest_event_time
from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import Customer, CustomerTombstone, Event, RecommendationList


@dataclass(frozen=True)
class Mark:
    """Where a tenant's data stood: newest event row, newest customer update, newest erasure,
    newest precomputed list.

    ``event_id`` and ``list_id`` are the highest row ids of the whole database (one
    primary-key read each): rows are numbered in insertion order, so every event stored later
    has a higher id, and every replacement of precomputed lists moves ``list_id``.
    """

    event_id: int = 0
    customer_updated: dt.datetime | None = None
    tombstone_id: int = 0
    list_id: int = 0


@dataclass(frozen=True)
class EventRow:
    """One stored event, as fold-in reads it."""

    id: int
    idempotency_key: str
    customer_id: str
    item_id: str | None
    type: str
    value: float | None
    ts: dt.datetime


@dataclass(frozen=True)
class CustomerChange:
    """A customer created or updated since a mark, with their personalization consent."""

    customer_id: str
    consent_personalization: str
    updated_at: dt.datetime


class ChangeFeed(Repository):
    """Cheap marks of a tenant's data and the rows that changed after one."""

    def mark(self, tid: int) -> Mark:
        """The current :class:`Mark` of tenant ``tid`` (four indexed reads)."""
        with self._engine.connect() as conn:
            event_id = conn.execute(select(func.max(Event.id))).scalar_one_or_none()
            list_id = conn.execute(select(func.max(RecommendationList.id))).scalar_one_or_none()
            updated = conn.execute(select(func.max(Customer.updated_at)).where(
                Customer.tenant_id == tid)).scalar_one_or_none()
            tomb = conn.execute(select(func.max(CustomerTombstone.id)).where(
                CustomerTombstone.tenant_id == tid)).scalar_one_or_none()
        return Mark(int(event_id or 0), as_utc(updated), int(tomb or 0), int(list_id or 0))

    def events_since(self, tid: int, *, after_id: int | None = None,
                     after_ts: dt.datetime | None = None, customer_id: str | None = None,
                     limit: int | None = None) -> list[EventRow]:
        """Events of tenant ``tid`` stored after row ``after_id`` and/or timed after
        ``after_ts``, optionally of one customer, oldest row first (newest ``limit`` rows
        when a limit is given). Events timed beyond the accepted window (stored before times
        were checked) are never returned."""
        stmt = select(Event.id, Event.idempotency_key, Event.customer_id, Event.item_id,
                      Event.type, Event.value, Event.ts).where(
            Event.tenant_id == tid, Event.ts <= latest_event_time())
        if after_id is not None:
            stmt = stmt.where(Event.id > after_id)
        if after_ts is not None:  # UTC; SQLite stores UTC without offset, so both compare
            stmt = stmt.where(Event.ts > after_ts)
        if customer_id is not None:
            stmt = stmt.where(Event.customer_id == customer_id)
        stmt = stmt.order_by(Event.id.desc() if limit is not None else Event.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        found = [EventRow(int(r.id), str(r.idempotency_key), str(r.customer_id),
                          None if r.item_id is None else str(r.item_id), str(r.type),
                          None if r.value is None else float(r.value), as_utc(r.ts) or r.ts)
                 for r in rows]
        return found[::-1] if limit is not None else found

    def customers_since(self, tid: int, since: dt.datetime | None) -> list[CustomerChange]:
        """Customers of tenant ``tid`` created or updated at or after ``since`` (all when
        None), with their personalization consent."""
        stmt = select(Customer.customer_id, Customer.consent_personalization,
                      Customer.updated_at).where(Customer.tenant_id == tid)
        if since is not None:
            stmt = stmt.where(Customer.updated_at >= since)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [CustomerChange(str(r.customer_id), str(r.consent_personalization),
                               as_utc(r.updated_at) or r.updated_at) for r in rows]

    def erased_since(self, tid: int, tombstone_id: int) -> set[str]:
        """Keyed hashes of the customers erased after tombstone ``tombstone_id``."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(CustomerTombstone.customer_hash).where(
                CustomerTombstone.tenant_id == tid, CustomerTombstone.id > tombstone_id))
            return {str(h) for h in rows.scalars()}
