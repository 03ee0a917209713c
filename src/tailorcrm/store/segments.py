"""Precomputed customer segments: each named segmentation (rfm, behaviour, ...) replaced whole."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, delete, func, insert, select

from tailorcrm.store.base import Repository
from tailorcrm.store.tables import Segment, utcnow
from tailorcrm.store.tombstones import TombstoneRepository, lock_erasures


class SegmentRepository(Repository):
    """Customer → segment assignments, one set per segmentation."""

    def __init__(self, engine: Engine, tombstones: TombstoneRepository) -> None:
        super().__init__(engine)
        self._tombstones = tombstones

    def replace(self, tid: int, segmentation: str, assignments: Mapping[str, str], *,
                erased_after: int | None = None) -> int:
        """Replace every assignment of ``segmentation`` by ``{customer_id: segment}``.

        A job passes the tombstone watermark it took before reading its data as
        ``erased_after``: customers erased since are left out. Returns the rows stored.
        """
        now = utcnow()
        rows = [{"tenant_id": tid, "segmentation": segmentation, "customer_id": str(c),
                 "segment": str(s), "updated_at": now} for c, s in assignments.items()]
        hasher = None if erased_after is None else self._tombstones.hasher(tid)
        with self._engine.begin() as conn:
            lock_erasures(conn, tid)
            conn.execute(delete(Segment).where(Segment.tenant_id == tid,
                                               Segment.segmentation == segmentation))
            rows = self._tombstones.without_erased(conn, tid, erased_after, rows, hasher)
            if rows:
                conn.execute(insert(Segment), rows)
        return len(rows)

    def of_customer(self, tid: int, customer_id: str) -> dict[str, str]:
        """``{segmentation: segment}`` of one customer."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(Segment.segmentation, Segment.segment).where(
                Segment.tenant_id == tid, Segment.customer_id == customer_id,
            ).order_by(Segment.segmentation)).all()
        return {r.segmentation: r.segment for r in rows}

    def members(self, tid: int, segmentation: str, segment: str, *,
                limit: int | None = None) -> list[str]:
        """The customer ids in one segment, sorted."""
        stmt = select(Segment.customer_id).where(
            Segment.tenant_id == tid, Segment.segmentation == segmentation,
            Segment.segment == segment).order_by(Segment.customer_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._engine.connect() as conn:
            return [str(c) for c in conn.execute(stmt).scalars()]

    def list(self, tid: int) -> dict[str, dict[str, int]]:
        """``{segmentation: {segment: size}}`` of the tenant."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(Segment.segmentation, Segment.segment, func.count()).where(
                Segment.tenant_id == tid).group_by(Segment.segmentation, Segment.segment)
                .order_by(Segment.segmentation, Segment.segment)).all()
        out: dict[str, dict[str, int]] = {}
        for segmentation, segment, size in rows:
            out.setdefault(segmentation, {})[segment] = int(size)
        return out
