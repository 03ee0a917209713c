"""Tombstones of erased customers, so that a job's late writes cannot bring them back.

A job reads a tenant's data, works for a while, then writes results. A customer erased in
between is gone from the store but still in the job's data. Erasure therefore leaves a
tombstone: a keyed hash of the customer id (HMAC-SHA256 under a per-tenant key; the id itself
is never stored) with an increasing ``id``. A job takes the :meth:`watermark` (the highest
tombstone id) before reading, and each of its writes drops the customers tombstoned above it.

Erasure and the writes of jobs hold a per-tenant lock inside their transactions (a PostgreSQL
advisory lock; SQLite has one writer at a time anyway), so a tombstone commits either before a
write reads the tombstones or after the write committed, when erasure deletes its rows itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from tailorcrm.store.base import Repository
from tailorcrm.store.tables import CustomerTombstone, utcnow
from tailorcrm.store.tenants import TenantRepository

TOMBSTONE_PURPOSE = "customer-tombstone/v1"
SUPPRESSED_REASON = "erased customer; lift the suppression to accept it"
"""The one per-row reason an import, upsert or event of a suppressed (erased) id gets."""
LIFTED_PREFIX = "~lifted:"  # a lifted tombstone's hash: never a hex digest, so never matched
ERASURE_LOCK_CLASS = 0x7443  # first key of pg_advisory_xact_lock(class, tenant id)

Hasher = Callable[[str], str]
Row = TypeVar("Row", bound=Mapping[str, Any])


def lock_erasures(conn: Connection, tid: int) -> None:
    """Hold the tenant's erasure lock until the caller's transaction ends (PostgreSQL only;
    on SQLite the first write of a transaction serialises writers)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, :t)"),
                     {"c": ERASURE_LOCK_CLASS, "t": tid})


class TombstoneRepository(Repository):
    """Record erasures as keyed hashes; tell jobs which of their customers were erased."""

    def __init__(self, engine: Engine, tenants: TenantRepository) -> None:
        super().__init__(engine)
        self._tenants = tenants

    def hasher(self, tid: int) -> Hasher:
        """The tenant's customer-id hash (hex HMAC-SHA256); get it before opening a
        transaction (the first call per tenant reads the tenant's secret)."""
        key = self._tenants.key(tid, TOMBSTONE_PURPOSE)

        def digest(customer_id: str) -> str:
            return hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()

        return digest

    @staticmethod
    def record(conn: Connection, tid: int, customer_hash: str) -> None:
        """Add a tombstone in the caller's (erasure) transaction, which holds the lock."""
        conn.execute(insert(CustomerTombstone).values(
            tenant_id=tid, customer_hash=customer_hash, erased_at=utcnow()))

    def watermark(self, tid: int) -> int:
        """The highest tombstone id of tenant ``tid`` (0 for none): take it before reading
        the data a job's writes are made from."""
        with self._engine.begin() as conn:
            lock_erasures(conn, tid)  # erasures in flight commit first
            found = conn.execute(select(func.max(CustomerTombstone.id)).where(
                CustomerTombstone.tenant_id == tid)).scalar_one_or_none()
        return int(found or 0)

    @staticmethod
    def erased_after(conn: Connection, tid: int, watermark: int) -> set[str]:
        """Hashes of the customers erased after ``watermark`` (in the caller's transaction)."""
        rows = conn.execute(select(CustomerTombstone.customer_hash).where(
            CustomerTombstone.tenant_id == tid, CustomerTombstone.id > watermark))
        return {str(h) for h in rows.scalars()}

    def any(self, tid: int) -> bool:
        """Whether the tenant has a standing suppression (an erasure not lifted)."""
        with self._engine.connect() as conn:
            return conn.execute(select(CustomerTombstone.id).where(
                CustomerTombstone.tenant_id == tid,
                CustomerTombstone.lifted_at.is_(None)).limit(1)).first() is not None

    def count(self, tid: int) -> int:
        """How many suppressions of the tenant stand (erasures not lifted)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count(CustomerTombstone.id)).where(
                CustomerTombstone.tenant_id == tid,
                CustomerTombstone.lifted_at.is_(None))).scalar_one())

    def lift(self, tid: int, customer_id: str) -> int:
        """Lift the suppression of an erased id: imports and upserts accept it again.

        The tombstone rows stay (their ids keep the change feed and jobs' watermarks
        monotonic) but their hash becomes a marker no id hashes to, so nothing treats the
        id as erased any more: imports, upserts, jobs and models loaded from now on. Returns
        how many tombstones were lifted (0: the id was not suppressed).
        """
        customer_hash = self.hasher(tid)(customer_id)
        with self._engine.begin() as conn:
            lock_erasures(conn, tid)
            ids = conn.execute(select(CustomerTombstone.id).where(
                CustomerTombstone.tenant_id == tid,
                CustomerTombstone.customer_hash == customer_hash)).scalars().all()
            for row_id in ids:
                conn.execute(update(CustomerTombstone).where(
                    CustomerTombstone.id == row_id).values(
                    customer_hash=f"{LIFTED_PREFIX}{row_id}", lifted_at=utcnow()))
        return len(ids)

    def erased_among(self, tid: int, customer_ids: Iterable[str]) -> set[str]:
        """Those of ``customer_ids`` that were erased (their tombstone stands)."""
        ids = sorted(set(customer_ids))
        if not ids:
            return set()
        hasher = self.hasher(tid)
        by_hash = {hasher(c): c for c in ids}
        found: set[str] = set()
        hashes = list(by_hash)
        with self._engine.connect() as conn:
            for start in range(0, len(hashes), 500):
                rows = conn.execute(select(CustomerTombstone.customer_hash).where(
                    CustomerTombstone.tenant_id == tid,
                    CustomerTombstone.customer_hash.in_(hashes[start:start + 500])))
                found |= {by_hash[str(h)] for h in rows.scalars()}
        return found

    @staticmethod
    def suppressed_in(conn: Connection, tid: int, customer_ids: Iterable[str],
                      hasher: Hasher) -> set[str]:
        """Those of ``customer_ids`` whose suppression stands, read in the caller's write
        transaction (call it after :func:`lock_erasures` and the write, then roll back when
        any is found: an erasure that committed meanwhile wins)."""
        by_hash = {hasher(c): c for c in set(customer_ids)}
        hashes = list(by_hash)
        found: set[str] = set()
        for start in range(0, len(hashes), 500):
            rows = conn.execute(select(CustomerTombstone.customer_hash).where(
                CustomerTombstone.tenant_id == tid,
                CustomerTombstone.customer_hash.in_(hashes[start:start + 500])))
            found |= {by_hash[str(h)] for h in rows.scalars()}
        return found

    def erased_since(self, tid: int, watermark: int) -> set[str]:
        """As :meth:`erased_after`, in a transaction of its own."""
        with self._engine.connect() as conn:
            return self.erased_after(conn, tid, watermark)

    def without_erased(self, conn: Connection, tid: int, watermark: int | None,
                       rows: Iterable[Row], hasher: Hasher | None,
                       key: str = "customer_id") -> list[Row]:
        """``rows`` without those of customers erased after ``watermark``.

        Call it inside the write transaction, after :func:`lock_erasures` and the first
        write (so that no erasure commits between this read and the caller's commit).
        ``watermark`` None keeps every row.
        """
        kept = list(rows)
        if watermark is None or hasher is None:
            return kept
        erased = self.erased_after(conn, tid, watermark)
        if not erased:
            return kept
        return [r for r in kept if hasher(str(r[key])) not in erased]
