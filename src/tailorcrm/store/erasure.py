"""Erasure of one customer everywhere the store keeps them: data and precomputed caches.

:func:`erase_customer` deletes the rows in the caller's transaction; :class:`ErasureRepository`
does it with the audit entry in one transaction and reclaims the space afterwards (SQLite: a
WAL checkpoint that truncates the log; PostgreSQL: ``VACUUM`` of the customer tables). SQLite
connections run with ``secure_delete`` on (``store/engine.py``), so deleted rows are zeroed in
the database file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, exists, select, text

from tailorcrm.store.audit import AuditRepository
from tailorcrm.store.base import Repository
from tailorcrm.store.engine import checkpoint
from tailorcrm.store.experiments import ExperimentExposure
from tailorcrm.store.tables import (
    ConsentChange,
    Customer,
    Event,
    NeedScore,
    RecommendationList,
    Segment,
)
from tailorcrm.store.tombstones import TombstoneRepository, lock_erasures

log = logging.getLogger(__name__)

# Every table that holds a customer's rows, keyed by the external customer_id (a table added
# later that keeps customer rows belongs here too).
CUSTOMER_TABLES: tuple[Any, ...] = (Event, Segment, NeedScore, RecommendationList,
                                    ConsentChange, ExperimentExposure, Customer)
# Tables whose dead rows VACUUM reclaims after an erasure (PostgreSQL).
RECLAIMED_TABLES = ("events", "customer_segments", "need_scores", "recommendation_lists",
                    "consent_history", "experiment_exposures", "customers",
                    "quarantine")


def erase_customer(conn: Connection, tid: int, customer_id: str,
                   customer_hash: str | None = None) -> dict[str, int]:
    """Delete one customer's rows from every table (in the caller's transaction).

    That includes quarantined source rows in which any column equals the customer id. When
    anything was deleted and ``customer_hash`` is given, a tombstone records the erasure
    (under the tenant's erasure lock) so that jobs running now do not write the customer back.

    Returns ``{table name: rows deleted}``.
    """
    lock_erasures(conn, tid)
    counts: dict[str, int] = {}
    for table in CUSTOMER_TABLES:
        result = conn.execute(delete(table).where(
            table.tenant_id == tid, table.customer_id == customer_id))
        counts[table.__tablename__] = int(result.rowcount or 0)
    # Rejected source rows are copies too: drop those holding the id in any column.
    each = "jsonb_each_text" if conn.dialect.name == "postgresql" else "json_each"
    result = conn.execute(text(
        f"DELETE FROM quarantine WHERE tenant_id = :tid AND EXISTS "
        f"(SELECT 1 FROM {each}(quarantine.raw) AS kv WHERE kv.value = :cid)"),
        {"tid": tid, "cid": customer_id})
    counts["quarantine"] = int(result.rowcount or 0)
    if customer_hash is not None and any(counts.values()):
        TombstoneRepository.record(conn, tid, customer_hash)
    log.info("erased a customer of tenant %d: %s", tid, counts)  # never the id itself
    return counts


def holds_customer(conn: Connection, tid: int, customer_id: str, *, events: bool) -> bool:
    """Whether the store holds the customer: a customer row, or (with ``events``) any event.

    Serving asks this rather than a model's vocabulary, which keeps customers erased after
    training.
    """
    found = conn.execute(select(exists().where(
        Customer.tenant_id == tid, Customer.customer_id == customer_id))).scalar()
    if not found and events:
        found = conn.execute(select(exists().where(
            Event.tenant_id == tid, Event.customer_id == customer_id))).scalar()
    return bool(found)


@dataclass(frozen=True)
class ErasureOutcome:
    """What one erasure removed (rows by table) and the id of its audit entry."""

    counts: dict[str, int]
    audit_id: int | None

    @property
    def found(self) -> bool:
        """Whether the store held anything of the customer."""
        return any(self.counts.values())


class ErasureRepository(Repository):
    """Erase customers with their audit entry in one transaction; reclaim the space."""

    def __init__(self, engine: Any, tombstones: TombstoneRepository) -> None:
        super().__init__(engine)
        self._tombstones = tombstones

    def erase(self, tid: int, customer_id: str, *, actor: str, action: str = "privacy.erase",
              details: Mapping[str, Any] | None = None) -> ErasureOutcome:
        """Delete the customer everywhere, leave the tombstone (the suppression) and append
        an audit entry (target: the keyed hash; details: the counts), all or nothing.

        Nothing found: nothing is written, not even the audit entry (``audit_id`` None).
        """
        customer_hash = self._tombstones.hasher(tid)(customer_id)
        with self._engine.begin() as conn:
            counts = erase_customer(conn, tid, customer_id, customer_hash)
            audit_id = None
            if any(counts.values()):
                audit_id = AuditRepository.record_in(
                    conn, tid, actor, action, customer_hash,
                    {"removed": counts, **dict(details or {})})
        return ErasureOutcome(counts, audit_id)

    def reclaim(self, *, full: bool = False) -> str:
        """Make deleted rows unrecoverable from the database files as far as the backend can.

        SQLite: fold the WAL into the database and truncate it (deleted content is already
        zeroed by ``secure_delete``); ``full`` also runs ``VACUUM`` (rewrites the file).
        PostgreSQL: ``VACUUM`` (``VACUUM FULL`` with ``full``: rewrites the tables under an
        exclusive lock) of the tables erasure deletes from. Returns what was done.
        """
        if self.backend == "sqlite":
            if full:
                with self._engine.connect() as conn:
                    conn.connection.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
            checkpoint(self._engine)
            return "sqlite: " + ("VACUUM, " if full else "") + "wal_checkpoint(TRUNCATE)"
        verb = "VACUUM FULL" if full else "VACUUM"
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in RECLAIMED_TABLES:
                conn.execute(text(f"{verb} {table}"))
        return f"postgresql: {verb} {', '.join(RECLAIMED_TABLES)}"
