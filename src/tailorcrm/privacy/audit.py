"""Audit helpers: who acted, on what (a keyed hash where it is personal), recorded append-only.

Every admin and privacy action, and every API key creation or revocation, calls
:func:`audit_action`. The actor is ``key:<key id>`` for an API key and ``cli`` for the command
line; a customer is named by the tenant's keyed hash of the id (HMAC-SHA256 under a per-tenant
secret, the same hash the tombstone holds), never by the id itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tailorcrm.store import Store
from tailorcrm.store.audit import AuditRecord

CLI_ACTOR = "cli"

# the actions this package records (other packages add their own, e.g. "key.create")
ERASE = "privacy.erase"
EXPORT = "privacy.export"
LIFT = "privacy.suppression_lift"
RECLAIM = "privacy.reclaim"


def key_actor(key_id: str | None) -> str:
    """The actor of an API key (``key:<id>``)."""
    return f"key:{key_id or 'unknown'}"


def customer_target(store: Store, tid: int, customer_id: str) -> str:
    """How an audit entry names a customer: the tenant's keyed hash of the id."""
    return store.tombstones.hasher(tid)(customer_id)


def audit_action(store: Store, tid: int, actor: str, action: str, target: str | None = None,
                 details: Mapping[str, Any] | None = None) -> int:
    """Append one entry to the tenant's audit log; returns its id.

    ``target`` and ``details`` must not hold personal data: name a customer with
    :func:`customer_target`.
    """
    return store.audit.record(tid, actor, action, target, details)


def list_audit(store: Store, tid: int, *, action: str | None = None,
               before_id: int | None = None, limit: int = 100) -> list[AuditRecord]:
    """The tenant's audit entries, newest first (``action`` may be a prefix ending in ``.``)."""
    return store.audit.list(tid, action=action, before_id=before_id, limit=limit)
