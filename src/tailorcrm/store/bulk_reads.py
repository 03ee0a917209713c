"""Whole-tenant reads of results, for serving's memory and batch jobs (one query each).

Per-customer reads live in the results repositories (``recommendations``, ``segments``,
``need_scores``); these read a tenant at once, streamed, so that a server can hold a
strategy's fresh lists in memory and a precompute can hand every customer's segments and need
scores to the rules without a query per customer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from tailorcrm.store.base import Repository
from tailorcrm.store.tables import NeedScore, RecommendationList, Segment

STREAM_ROWS = 5_000  # rows fetched per round trip while streaming


class BulkReads(Repository):
    """Every list of a strategy, every segment and every need score of a tenant."""

    def lists(self, tid: int, strategy: str, *, model_version: str | None = None,
              config_hash: str | None = None) -> Iterator[tuple[str, list[Any]]]:
        """``(customer_id, items)`` of every stored list of ``strategy`` (only those made by
        ``model_version`` and ``config_hash`` when given), streamed."""
        stmt = select(RecommendationList.customer_id, RecommendationList.items).where(
            RecommendationList.tenant_id == tid, RecommendationList.strategy == strategy)
        if model_version is not None:
            stmt = stmt.where(RecommendationList.model_version == model_version)
        if config_hash is not None:
            stmt = stmt.where(RecommendationList.config_hash == config_hash)
        with self._engine.connect() as conn:
            result = conn.execution_options(stream_results=True,
                                            yield_per=STREAM_ROWS).execute(stmt)
            for customer_id, items in result:
                yield str(customer_id), list(items or [])

    def segments(self, tid: int) -> dict[str, dict[str, str]]:
        """``{customer_id: {segmentation: segment}}`` of the tenant."""
        out: dict[str, dict[str, str]] = {}
        stmt = select(Segment.customer_id, Segment.segmentation, Segment.segment).where(
            Segment.tenant_id == tid).order_by(Segment.segmentation)
        with self._engine.connect() as conn:
            for customer_id, segmentation, segment in conn.execute(stmt):
                out.setdefault(str(customer_id), {})[str(segmentation)] = str(segment)
        return out

    def need_scores(self, tid: int) -> dict[str, dict[str, float]]:
        """``{customer_id: {need: score}}`` of the tenant."""
        out: dict[str, dict[str, float]] = {}
        stmt = select(NeedScore.customer_id, NeedScore.need, NeedScore.score).where(
            NeedScore.tenant_id == tid).order_by(NeedScore.need)
        with self._engine.connect() as conn:
            for customer_id, need, score in conn.execute(stmt):
                out.setdefault(str(customer_id), {})[str(need)] = float(score)
        return out
