"""Whole-tenant reads for the next-best-action cache: customers, need scores with their source,
rejection feedback, and cheap stamps of the results tables (one query each).

``serving/actions_cache.py`` holds a tenant's customers, segments, need scores and
rejections in memory; it reads them here once, then only what changed (customers updated
since a time, rejection events after an id), and reads them whole again when a stamp of
the need-score, segment or item tables moved (those are replaced whole by training).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.need_scores import score_source
from tailorcrm.store.tables import Customer, Event, Item, NeedScore, Segment

ACTION_FIELD = "nba_action"  # the event attribute naming the action (customize/feedback.py)


@dataclass(frozen=True)
class CustomerFields:
    """What the ``customer`` rule variable of next best actions is built from."""

    customer_id: str
    consent_personalization: str
    consent_marketing: str
    attributes: dict[str, Any]
    updated_at: dt.datetime | None
    consent_profiling: str = "unknown"


@dataclass(frozen=True)
class Rejection:
    """One rejection event: its row id, customer, time and the action rejected."""

    id: int
    customer_id: str
    ts: dt.datetime
    action: str


@dataclass(frozen=True)
class ResultsStamp:
    """Where the need-score, segment and item tables of a tenant stood (rows, newest write)."""

    need_rows: int = 0
    need_newest: dt.datetime | None = None
    segment_rows: int = 0
    segment_newest: dt.datetime | None = None
    item_rows: int = 0
    item_newest: dt.datetime | None = None


class BulkCustomers(Repository):
    """Every customer, need score and rejection of a tenant, and stamps of its results."""

    def customers(self, tid: int, since: dt.datetime | None = None) -> list[CustomerFields]:
        """Customers of tenant ``tid`` (only those updated at or after ``since`` when given)."""
        stmt = select(Customer.customer_id, Customer.consent_personalization,
                      Customer.consent_marketing, Customer.attributes,
                      Customer.updated_at, Customer.consent_profiling).where(
            Customer.tenant_id == tid)
        if since is not None:
            stmt = stmt.where(Customer.updated_at >= since)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [CustomerFields(str(r.customer_id), str(r.consent_personalization),
                               str(r.consent_marketing), dict(r.attributes or {}),
                               as_utc(r.updated_at), str(r.consent_profiling))
                for r in rows]

    def need_scores(self, tid: int) -> dict[str, dict[str, tuple[float, str]]]:
        """``{customer_id: {need: (score, source)}}``, needs in name order."""
        out: dict[str, dict[str, tuple[float, str]]] = {}
        stmt = select(NeedScore.customer_id, NeedScore.need, NeedScore.score,
                      NeedScore.model_version).where(NeedScore.tenant_id == tid).order_by(
            NeedScore.need)
        with self._engine.connect() as conn:
            for customer_id, need, score, version in conn.execute(stmt):
                out.setdefault(str(customer_id), {})[str(need)] = (
                    float(score), score_source(version or ""))
        return out

    def rejections(self, tid: int, event_type: str, *,
                   after_id: int | None = None) -> list[Rejection]:
        """Events of ``event_type`` (after row ``after_id`` when given) with their action."""
        stmt = select(Event.id, Event.customer_id, Event.ts, Event.attributes).where(
            Event.tenant_id == tid, Event.type == event_type)
        if after_id is not None:
            stmt = stmt.where(Event.id > after_id)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(Event.id)).all()
        return [Rejection(int(r.id), str(r.customer_id), as_utc(r.ts) or r.ts,
                          str((r.attributes or {}).get(ACTION_FIELD, ""))) for r in rows]

    def stamp(self, tid: int) -> ResultsStamp:
        """The current :class:`ResultsStamp` of tenant ``tid`` (three aggregate reads)."""
        with self._engine.connect() as conn:
            needs = conn.execute(select(func.count(), func.max(NeedScore.scored_at)).where(
                NeedScore.tenant_id == tid)).one()
            segs = conn.execute(select(func.count(), func.max(Segment.updated_at)).where(
                Segment.tenant_id == tid)).one()
            items = conn.execute(select(func.count(), func.max(Item.updated_at)).where(
                Item.tenant_id == tid)).one()
        return ResultsStamp(int(needs[0]), as_utc(needs[1]), int(segs[0]), as_utc(segs[1]),
                            int(items[0]), as_utc(items[1]))
