"""Erasure of one customer everywhere the store keeps them: data and precomputed caches."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, delete

from tailorcrm.store.tables import Customer, Event, NeedScore, RecommendationList, Segment

log = logging.getLogger(__name__)

# Every table that holds a customer's rows, keyed by the external customer_id.
CUSTOMER_TABLES = (Event, Segment, NeedScore, RecommendationList, Customer)


def erase_customer(conn: Connection, tid: int, customer_id: str) -> dict[str, int]:
    """Delete one customer's rows from every table (in the caller's transaction).

    Returns ``{table name: rows deleted}``.
    """
    counts: dict[str, int] = {}
    for table in CUSTOMER_TABLES:
        result = conn.execute(delete(table).where(
            table.tenant_id == tid, table.customer_id == customer_id))
        counts[table.__tablename__] = int(result.rowcount or 0)
    log.info("erased customer %s of tenant %d: %s", customer_id, tid, counts)
    return counts
