"""Feedback on a recommendation: what the customer did with one item, stored as an event
attributed to the recommendation (the API's feedback route and the console both record it)."""

from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import suppress
from dataclasses import dataclass
from typing import Literal

from tailorcrm.errors import ConflictError, NotFoundError
from tailorcrm.schema.fields import FieldSpec, FieldType
from tailorcrm.serving import recommend as service
from tailorcrm.store import Store

Outcome = Literal["accepted", "rejected", "clicked", "purchased"]
OUTCOME_TYPES: dict[str, str] = {"accepted": "feedback", "rejected": "reject",
                                 "clicked": "click", "purchased": "purchase"}
REC_FIELD = "recommendation_id"


@dataclass(frozen=True)
class Recorded:
    """The customer the recommendation was for, the event type stored, and whether it was
    stored now (False: the same feedback was stored before)."""

    customer_id: str
    event_type: str
    recorded: bool


def ensure_feedback_field(store: Store, tid: int) -> None:
    """Add the ``recommendation_id`` event field if missing (feedback and purchases carry it;
    experiments attribute events that do to the variant in the id)."""
    try:
        store.fields.get(tid, "event", REC_FIELD)
    except NotFoundError:
        with suppress(ConflictError):  # added concurrently
            store.fields.add(tid, FieldSpec(entity="event", name=REC_FIELD,
                                            type=FieldType.STRING,
                                            description="Recommendation a feedback is about."))


def record_feedback(store: Store, tid: int, recommendation_id: str, item_id: str,
                    outcome: Outcome, *, value: float | None = None,
                    timestamp: dt.datetime | None = None,
                    customer_id: str | None = None) -> Recorded:
    """Store one outcome of a recommended item, idempotently (the same outcome for the same
    item of the same recommendation is stored once).

    Only ids this tenant issued are accepted (they are signed): NotFoundError for any other,
    and for the id of a customer erased since. With ``customer_id``, also for a
    recommendation made for anyone else (a page about one customer writes only on them).
    """
    ref = service.verified_recommendation(store, tid, recommendation_id)
    if customer_id is not None and ref.customer_id != customer_id:
        raise NotFoundError("no such recommendation for this customer")
    ensure_feedback_field(store, tid)
    event_type = OUTCOME_TYPES[outcome]
    key = hashlib.sha256(f"{recommendation_id}\x1f{item_id}".encode()).hexdigest()[:40]
    row: dict[str, object] = {
        "idempotency_key": f"rec:{key}:{outcome}",
        "customer_id": ref.customer_id, "item_id": item_id, "type": event_type,
        "ts": timestamp or dt.datetime.now(dt.UTC), REC_FIELD: recommendation_id[:255]}
    if value is not None or outcome == "accepted":
        row["value"] = value if value is not None else 1.0
    inserted, _ = store.events.add(tid, [row])
    return Recorded(ref.customer_id, event_type, inserted == 1)
