"""Erasure of one customer everywhere the store keeps them: data and precomputed caches."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, delete, text

from tailorcrm.store.tables import Customer, Event, NeedScore, RecommendationList, Segment

log = logging.getLogger(__name__)

# Every table that holds a customer's rows, keyed by the external customer_id.
CUSTOMER_TABLES = (Event, Segment, NeedScore, RecommendationList, Customer)


def erase_customer(conn: Connection, tid: int, customer_id: str) -> dict[str, int]:
    """Delete one customer's rows from every table (in the caller's transaction).

    That includes quarantined source rows in which any column equals the customer id.

    Returns ``{table name: rows deleted}``.
    """
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
    log.info("erased customer %s of tenant %d: %s", customer_id, tid, counts)
    return counts
