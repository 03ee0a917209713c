"""Retention per tenant: events older than ``retention_days`` are deleted, with an audit entry.

The tenant setting ``retention_days`` (``GET/PUT /v1/settings``) is None by default: every
event is kept, and :func:`apply_retention` says so and deletes nothing. Set, the training job
applies it before it reads the data (``jobs/train.py``), and ``tailorcrm retention run`` does
on demand. The audit entry (``privacy.retention``) holds the period, the cut-off and the count
deleted; never an event's content.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from tailorcrm.store import Store
from tailorcrm.store.tenant_settings import load_tenant_settings

log = logging.getLogger(__name__)

RETAIN = "privacy.retention"
JOB_ACTOR = "job:train"


@dataclass(frozen=True)
class RetentionOutcome:
    """What one retention run did: the period (None: keep everything), the cut-off, the
    events deleted and the audit entry (None when nothing was due to run)."""

    days: int | None
    cutoff: dt.datetime | None
    deleted: int
    audit_id: int | None

    def describe(self) -> str:
        """The outcome in words."""
        if self.days is None:
            return "retention: keep everything (no retention_days set); nothing deleted"
        return (f"retention {self.days} days: deleted {self.deleted} event(s) older than "
                f"{self.cutoff:%Y-%m-%d %H:%M:%S} UTC (audit entry {self.audit_id})")


def apply_retention(store: Store, tid: int, actor: str, *, now: dt.datetime | None = None,
                    dry_run: bool = False) -> RetentionOutcome:
    """Delete the tenant's events older than its ``retention_days`` (none when unset).

    With ``dry_run`` only count them (no deletion, no audit entry).
    """
    days = load_tenant_settings(store.configs, tid).retention_days
    if days is None:
        return RetentionOutcome(None, None, 0, None)
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    if dry_run:
        return RetentionOutcome(days, cutoff, store.retention.count_before(tid, cutoff), None)
    deleted, audit_id = store.retention.delete_events_before(
        tid, cutoff, actor=actor, action=RETAIN,
        details={"retention_days": days, "cutoff": cutoff.isoformat()})
    log.info("tenant %d: retention %d days deleted %d event(s)", tid, days, deleted)
    return RetentionOutcome(days, cutoff, deleted, audit_id)


def retain_before_training(store: Store, tid: int) -> RetentionOutcome:
    """The training job's first step: apply the tenant's retention (actor ``job:train``)."""
    outcome = apply_retention(store, tid, JOB_ACTOR)
    if outcome.days is None:
        log.debug("tenant %d: %s", tid, outcome.describe())
    return outcome
