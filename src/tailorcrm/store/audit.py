"""The audit log: an append-only record of every admin and privacy action of a tenant.

GDPR Art. 30 asks a processor to keep records of its processing; an erasure must be provable
without keeping what was erased. Entries are therefore written and read, never changed: this
repository has no update or delete method, and the database refuses both (triggers of
revision 0007). Personal targets are keyed hashes (see :mod:`tailorcrm.privacy.audit`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Connection, insert, select

from tailorcrm.store.base import Repository, as_utc
from tailorcrm.store.tables import AuditEntry, utcnow

MAX_LIST = 1000


class AuditRecord(BaseModel):
    """One audit entry, as read back."""

    id: int
    actor: str = Field(description="Who acted: 'key:<key id>' or 'cli'.")
    action: str = Field(description="What was done, e.g. 'privacy.erase', 'key.create'.")
    target: str | None = Field(default=None, description="What was acted on (a keyed hash "
                                                         "where it would be personal).")
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime


class AuditRepository(Repository):
    """Append entries to a tenant's audit log and read them back, newest first."""

    def record(self, tid: int, actor: str, action: str, target: str | None = None,
               details: Mapping[str, Any] | None = None) -> int:
        """Append one entry in a transaction of its own; returns its id."""
        with self._engine.begin() as conn:
            return self.record_in(conn, tid, actor, action, target, details)

    @staticmethod
    def record_in(conn: Connection, tid: int, actor: str, action: str,
                  target: str | None = None, details: Mapping[str, Any] | None = None) -> int:
        """Append one entry in the caller's transaction (it commits with the action)."""
        result = conn.execute(insert(AuditEntry).values(
            tenant_id=tid, actor=actor[:128], action=action[:64],
            target=None if target is None else target[:200], details=dict(details or {}),
            created_at=utcnow()).returning(AuditEntry.id))
        return int(result.scalar_one())

    def list(self, tid: int, *, action: str | None = None, before_id: int | None = None,
             limit: int = 100) -> list[AuditRecord]:
        """The tenant's entries, newest first: of one ``action`` (or a prefix ending in
        ``.``, e.g. ``privacy.``), older than ``before_id`` (paging), at most ``limit``."""
        stmt = select(AuditEntry.id, AuditEntry.actor, AuditEntry.action, AuditEntry.target,
                      AuditEntry.details, AuditEntry.created_at).where(
            AuditEntry.tenant_id == tid)
        if action:
            stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True)
                              if action.endswith(".") else AuditEntry.action == action)
        if before_id is not None:
            stmt = stmt.where(AuditEntry.id < before_id)
        stmt = stmt.order_by(AuditEntry.id.desc()).limit(max(1, min(limit, MAX_LIST)))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [AuditRecord(id=int(r.id), actor=r.actor, action=r.action, target=r.target,
                            details=dict(r.details or {}),
                            created_at=as_utc(r.created_at) or r.created_at) for r in rows]
