"""Precomputed recommendation lists, stamped with model version and config hash (stale checks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, delete, func, insert, or_, select

from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import RecommendationList, utcnow
from tailorcrm.store.tombstones import TombstoneRepository, lock_erasures


class RecommendationListRecord(BaseModel):
    """One customer's precomputed list for one strategy."""

    model_config = ConfigDict(extra="forbid")

    strategy: str
    customer_id: str
    model_version: str
    config_hash: str
    items: list[Any] = Field(default_factory=list)
    created_at: dt.datetime | None = None

    def is_stale(self, model_version: str, config_hash: str) -> bool:
        """True when the list was made by another model version or config than the current."""
        return self.model_version != model_version or self.config_hash != config_hash


class RecommendationRepository(Repository):
    """The cache of precomputed top-N lists (Gorse's cache store, kept in the database)."""

    def __init__(self, engine: Engine, tombstones: TombstoneRepository) -> None:
        super().__init__(engine)
        self._tombstones = tombstones

    def replace(self, tid: int, strategy: str, rows: Iterable[Mapping[str, Any]], *,
                erased_after: int | None = None, model_version: str | None = None,
                config_hash: str | None = None) -> int:
        """Replace all lists of ``strategy`` by ``rows`` (customer_id, items, model_version,
        config_hash); ``items`` is a JSON list (item ids or ``{item_id, score, reasons}``).

        With ``erased_after`` (a job's tombstone watermark) customers erased since are left
        out. ``model_version`` and ``config_hash`` stamp the rows that carry none. Returns
        the lists stored.
        """
        now = utcnow()
        version, chash = model_version or "", config_hash or ""
        records = [{"tenant_id": tid, "strategy": strategy, "customer_id": str(r["customer_id"]),
                    "items": list(r["items"]),
                    "model_version": str(r.get("model_version") or version),
                    "config_hash": str(r.get("config_hash") or chash), "created_at": now}
                   for r in rows]
        hasher = None if erased_after is None else self._tombstones.hasher(tid)
        with self._engine.begin() as conn:
            lock_erasures(conn, tid)
            conn.execute(delete(RecommendationList).where(
                RecommendationList.tenant_id == tid, RecommendationList.strategy == strategy))
            records = self._tombstones.without_erased(conn, tid, erased_after, records, hasher)
            if records:
                conn.execute(insert(RecommendationList), records)
        return len(records)

    def get(self, tid: int, strategy: str, customer_id: str) -> RecommendationListRecord | None:
        """A customer's list for ``strategy``, or None (check ``is_stale`` before serving)."""
        with self._engine.connect() as conn:
            r = conn.execute(select(RecommendationList).where(
                RecommendationList.tenant_id == tid, RecommendationList.strategy == strategy,
                RecommendationList.customer_id == customer_id)).one_or_none()
            if r is None:
                return None
            return RecommendationListRecord(
                strategy=r.strategy, customer_id=r.customer_id, model_version=r.model_version,
                config_hash=r.config_hash, items=r.items or [], created_at=as_utc(r.created_at))

    def count_stale(self, tid: int, strategy: str, *, model_version: str,
                    config_hash: str) -> tuple[int, int]:
        """``(stale, total)`` lists of ``strategy`` against the current version and config."""
        base = select(func.count()).select_from(RecommendationList).where(
            RecommendationList.tenant_id == tid, RecommendationList.strategy == strategy)
        stale = base.where(or_(RecommendationList.model_version != model_version,
                               RecommendationList.config_hash != config_hash))
        with self._engine.connect() as conn:
            return int(conn.execute(stale).scalar_one()), int(conn.execute(base).scalar_one())

    def strategies(self, tid: int) -> dict[str, int]:
        """``{strategy: number of lists}`` of the tenant."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(RecommendationList.strategy, func.count()).where(
                RecommendationList.tenant_id == tid).group_by(RecommendationList.strategy)).all()
        return {s: int(n) for s, n in rows}
