"""Accept/reject feedback on next best actions, recorded as events and counted per action.

Feedback is stored as ordinary events so it has a time, a customer, idempotency and erasure
for free: types ``action_accepted`` / ``action_rejected`` (added to the tenant's catalog on
first use with ``preference=False`` and weight 0, so they never count as item preferences)
carrying the action name in the event field ``nba_action`` (added on first use, not a
feature). A rejection hides the action from that customer for the action's ``suppress_days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from pydantic import BaseModel, ConfigDict

from tailorcrm.errors import ConflictError, NotFoundError
from tailorcrm.schema.event_types import EventType
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.store import Store

ACCEPTED = "action_accepted"
REJECTED = "action_rejected"
ACTION_FIELD = "nba_action"


class ActionStats(BaseModel):
    """Feedback counts of one action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    accepted: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return self.accepted + self.rejected

    @property
    def acceptance_rate(self) -> float | None:
        """accepted / (accepted + rejected), None before any feedback."""
        return self.accepted / self.total if self.total else None


def ensure_feedback_schema(store: Store, tid: int) -> None:
    """Add the two feedback event types and the ``nba_action`` event field if missing."""
    names = store.event_types.names(tid)
    for name, text in ((ACCEPTED, "Customer accepted a next best action."),
                       (REJECTED, "Customer rejected a next best action.")):
        if name not in names:
            with suppress(ConflictError):  # added concurrently
                store.event_types.add(tid, EventType(name=name, weight=0.0, preference=False,
                                                     description=text))
    try:
        store.fields.get(tid, "event", ACTION_FIELD)
    except NotFoundError:
        with suppress(ConflictError):
            store.fields.add(tid, FieldSpec(entity="event", name=ACTION_FIELD,
                                            type=FieldType.STRING,
                                            description="Next-best-action name of feedback."))


def record_feedback(store: Store, tid: int, customer_id: str, action: str, accepted: bool, *,
                    ts: dt.datetime | None = None, item_id: str | None = None,
                    idempotency_key: str | None = None) -> bool:
    """Record one accept/reject; False when the same feedback was recorded already."""
    ensure_feedback_schema(store, tid)
    row: dict[str, Any] = {"customer_id": str(customer_id), "type": ACCEPTED if accepted
                           else REJECTED, "ts": ts or dt.datetime.now(dt.UTC),
                           ACTION_FIELD: action}
    if item_id is not None:
        row["item_id"] = item_id
    if idempotency_key is not None:
        row["idempotency_key"] = idempotency_key
    inserted, _ = store.events.add(tid, [row])
    return inserted == 1


def feedback_stats(store: Store, tid: int, actions: Iterable[str] = ()) -> dict[str, ActionStats]:
    """Accepted and rejected counts per action (every action with feedback, plus ``actions``)."""
    counts: dict[str, list[int]] = {a: [0, 0] for a in actions}
    # One indexed scan of the feedback events; the action name sits in the JSON attributes.
    for type_, attributes in store.events.attributes_of_types(tid, [ACCEPTED, REJECTED]):
        name = str(attributes.get(ACTION_FIELD, ""))
        slot = counts.setdefault(name, [0, 0])
        slot[0 if type_ == ACCEPTED else 1] += 1
    return {a: ActionStats(action=a, accepted=c[0], rejected=c[1])
            for a, c in sorted(counts.items())}


def recent_rejections(store: Store, tid: int, customer_id: str, *,
                      now: dt.datetime | None = None, limit: int = 500) -> dict[str, dt.datetime]:
    """Action name → time of this customer's latest rejection of it."""
    if REJECTED not in store.event_types.names(tid):
        return {}
    rows = store.events.for_customer(tid, customer_id, limit=limit, types=[REJECTED])
    return latest_by_action(((ev.ts, str(ev.attributes.get(ACTION_FIELD, ""))) for ev in rows),
                            now=now)


def latest_by_action(rejections: Iterable[tuple[dt.datetime, str]], *,
                     now: dt.datetime | None = None) -> dict[str, dt.datetime]:
    """Action name → its newest rejection time not after ``now``, from ``(ts, action)`` rows
    newest first (the store path and the serving cache share this)."""
    out: dict[str, dt.datetime] = {}
    for ts, name in rejections:
        if name and (now is None or ts <= now):
            out.setdefault(name, ts)  # newest first
    return out
