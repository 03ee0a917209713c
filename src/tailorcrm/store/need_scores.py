"""Precomputed need scores: each need's scores for every customer, replaced whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, Row, delete, func, insert, select

from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import NeedScore, utcnow
from tailorcrm.store.tombstones import TombstoneRepository, lock_erasures

BASELINE_PREFIX = "baseline-"
"""``model_version`` prefix of scores published by a need's baseline, not its model (the
model did not beat the baseline held out; see ``tailorcrm.needs.publishing``)."""


def score_source(model_version: str) -> Literal["model", "baseline"]:
    """``baseline`` for a baseline's scores, else ``model``."""
    return "baseline" if model_version.startswith(BASELINE_PREFIX) else "model"


class NeedScoreRecord(BaseModel):
    """One customer's score for one need; ``source`` says whether a model or the need's
    baseline made it (read from the ``model_version``, no column of its own)."""

    model_config = ConfigDict(extra="forbid")

    need: str
    customer_id: str
    score: float
    model_version: str = ""
    reasons: list[Any] = Field(default_factory=list)
    scored_at: dt.datetime | None = None
    source: Literal["model", "baseline"] = "model"


class NeedScoreRepository(Repository):
    """Scores per (need, customer), stamped with the model version that made them."""

    def __init__(self, engine: Engine, tombstones: TombstoneRepository) -> None:
        super().__init__(engine)
        self._tombstones = tombstones

    def replace(self, tid: int, need: str, rows: Iterable[Mapping[str, Any]], *,
                erased_after: int | None = None, model_version: str | None = None) -> int:
        """Replace all scores of ``need`` by ``rows`` (customer_id, score, model_version,
        reasons); with ``erased_after`` (a job's tombstone watermark) customers erased since
        are left out. ``model_version`` stamps the rows that carry none. Returns the rows
        stored."""
        now = utcnow()
        default = model_version or ""
        records = [{"tenant_id": tid, "need": need, "customer_id": str(r["customer_id"]),
                    "score": float(r["score"]),
                    "model_version": str(r.get("model_version") or default),
                    "reasons": list(r.get("reasons") or []), "scored_at": now} for r in rows]
        hasher = None if erased_after is None else self._tombstones.hasher(tid)
        with self._engine.begin() as conn:
            lock_erasures(conn, tid)
            conn.execute(delete(NeedScore).where(NeedScore.tenant_id == tid,
                                                 NeedScore.need == need))
            records = self._tombstones.without_erased(conn, tid, erased_after, records, hasher)
            if records:
                conn.execute(insert(NeedScore), records)
        return len(records)

    def for_customer(self, tid: int, customer_id: str) -> dict[str, NeedScoreRecord]:
        """``{need: score record}`` of one customer."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(NeedScore).where(
                NeedScore.tenant_id == tid, NeedScore.customer_id == customer_id,
            ).order_by(NeedScore.need))
            return {r.need: self._record(r) for r in rows}

    def top(self, tid: int, need: str, *, limit: int = 100) -> list[NeedScoreRecord]:
        """The customers with the highest scores for ``need``."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(NeedScore).where(
                NeedScore.tenant_id == tid, NeedScore.need == need,
            ).order_by(NeedScore.score.desc(), NeedScore.customer_id).limit(limit))
            return [self._record(r) for r in rows]

    def counts(self, tid: int) -> dict[str, int]:
        """``{need: customers scored}`` of the tenant."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(NeedScore.need, func.count()).where(
                NeedScore.tenant_id == tid).group_by(NeedScore.need)).all()
        return {str(n): int(c) for n, c in rows}

    @staticmethod
    def _record(r: Row[Any]) -> NeedScoreRecord:
        return NeedScoreRecord(need=r.need, customer_id=r.customer_id, score=r.score,
                               model_version=r.model_version, reasons=r.reasons or [],
                               scored_at=as_utc(r.scored_at),
                               source=score_source(r.model_version or ""))
