"""Reads the web console's pages need and nothing else does: counts over time, searches,
how often each item is recommended. Every read is scoped to one tenant and bounded."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, or_, select

from tailorcrm.store.base import Repository
from tailorcrm.store.tables import Customer, Event, Item, RecommendationList

MAX_ROWS = 200
MAX_LISTS = 200_000  # lists read for the recommended-counts table (a bound on one page's work)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ConsoleReads(Repository):
    """Aggregates and searches for console pages."""

    def events_by_month(self, tid: int) -> list[tuple[str, str, int]]:
        """``(YYYY-MM, event type, count)`` of the tenant's events, oldest month first."""
        if self._engine.dialect.name == "postgresql":
            month = func.to_char(func.timezone("UTC", Event.ts), "YYYY-MM")
        else:
            month = func.strftime("%Y-%m", Event.ts)
        stmt = (select(month.label("month"), Event.type, func.count())
                .where(Event.tenant_id == tid).group_by("month", Event.type).order_by("month"))
        with self._engine.connect() as conn:
            return [(str(m), str(t), int(n)) for m, t, n in conn.execute(stmt)]

    def find_customers(self, tid: int, query: str, *, limit: int = 50) -> list[str]:
        """Customer ids starting with ``query`` (all, when empty), in id order."""
        stmt = select(Customer.customer_id).where(Customer.tenant_id == tid)
        if query:
            stmt = stmt.where(Customer.customer_id.like(f"{_escape_like(query)}%", escape="\\"))
        stmt = stmt.order_by(Customer.customer_id).limit(min(limit, MAX_ROWS))
        with self._engine.connect() as conn:
            return [str(r) for r in conn.scalars(stmt)]

    def find_items(self, tid: int, query: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """Items whose id starts with, or whose title contains, ``query`` (case-insensitive)."""
        stmt = select(Item.item_id, Item.title, Item.categories, Item.price, Item.available
                      ).where(Item.tenant_id == tid)
        if query:
            like = _escape_like(query.lower())
            stmt = stmt.where(or_(Item.item_id.like(f"{_escape_like(query)}%", escape="\\"),
                                  func.lower(Item.title).like(f"%{like}%", escape="\\")))
        stmt = stmt.order_by(Item.item_id).limit(min(limit, MAX_ROWS))
        with self._engine.connect() as conn:
            return [{"item_id": r.item_id, "title": r.title, "categories": list(r.categories or []),
                     "price": r.price, "available": bool(r.available)}
                    for r in conn.execute(stmt)]

    def recommended_counts(self, tid: int, strategy: str) -> tuple[Counter[str], int]:
        """How many precomputed lists of ``strategy`` hold each item, and how many lists were
        read (at most :data:`MAX_LISTS`)."""
        stmt = (select(RecommendationList.items)
                .where(RecommendationList.tenant_id == tid,
                       RecommendationList.strategy == strategy).limit(MAX_LISTS))
        counts: Counter[str] = Counter()
        lists = 0
        with self._engine.connect() as conn:
            for items in conn.scalars(stmt.execution_options(yield_per=5000)):
                lists += 1
                counts.update({str(i.get("item_id")) for i in items or ()
                               if isinstance(i, dict)})
        return counts, lists

    def list_stamps(self, tid: int) -> dict[str, tuple[int, int]]:
        """``{strategy: (lists, max list row id)}``: any rewrite of a strategy's lists moves
        the stamp (a replacement always takes a new row id), so it keys caches of counts."""
        stmt = (select(RecommendationList.strategy, func.count(), func.max(RecommendationList.id))
                .where(RecommendationList.tenant_id == tid)
                .group_by(RecommendationList.strategy))
        with self._engine.connect() as conn:
            return {str(s): (int(n), int(m or 0)) for s, n, m in conn.execute(stmt)}

    def item_titles(self, tid: int, item_ids: list[str]) -> dict[str, str]:
        """``{item_id: title}`` of those of ``item_ids`` (at most :data:`MAX_ROWS`) stored."""
        wanted = list(dict.fromkeys(item_ids))[:MAX_ROWS]
        if not wanted:
            return {}
        stmt = select(Item.item_id, Item.title).where(Item.tenant_id == tid,
                                                       Item.item_id.in_(wanted))
        with self._engine.connect() as conn:
            return {str(i): str(t or "") for i, t in conn.execute(stmt)}
