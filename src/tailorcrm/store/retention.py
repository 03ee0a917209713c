"""Retention: delete a tenant's events older than a cut-off, with the audit entry, at once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from tailorcrm.store.audit import AuditRepository
from tailorcrm.store.base import Repository, to_utc
from tailorcrm.store.tables import Event


class RetentionRepository(Repository):
    """Deletes old events; the audit entry (counts only) commits with the deletion."""

    def count_before(self, tid: int, cutoff: dt.datetime) -> int:
        """How many of the tenant's events are older than ``cutoff``."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Event).where(
                Event.tenant_id == tid, Event.ts < to_utc(cutoff))).scalar_one())

    def delete_events_before(self, tid: int, cutoff: dt.datetime, *, actor: str,
                             action: str, details: dict[str, object]) -> tuple[int, int]:
        """Delete the tenant's events older than ``cutoff`` and append one audit entry with
        ``details`` and the count, all or nothing. Returns ``(events deleted, audit id)``."""
        with self._engine.begin() as conn:
            result = conn.execute(delete(Event).where(Event.tenant_id == tid,
                                                      Event.ts < to_utc(cutoff)))
            deleted = int(result.rowcount or 0)
            audit_id = AuditRepository.record_in(conn, tid, actor, action, "events",
                                                 {**details, "events_deleted": deleted})
        return deleted, audit_id
