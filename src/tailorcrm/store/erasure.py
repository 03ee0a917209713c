"""Erasure of one customer everywhere the store keeps them: data and precomputed caches."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, delete, exists, select, text

from tailorcrm.store.tables import Customer, Event, NeedScore, RecommendationList, Segment
from tailorcrm.store.tombstones import TombstoneRepository, lock_erasures

log = logging.getLogger(__name__)

# Every table that holds a customer's rows, keyed by the external customer_id.
CUSTOMER_TABLES = (Event, Segment, NeedScore, RecommendationList, Customer)


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
    log.info("erased customer %s of tenant %d: %s", customer_id, tid, counts)
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
