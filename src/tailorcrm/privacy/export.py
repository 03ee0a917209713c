"""Access and portability (GDPR Art. 15 and 20, CCPA "right to know"): everything held about
one customer, as one machine-readable JSON document with a manifest of its parts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tailorcrm import __version__
from tailorcrm.errors import NotFoundError
from tailorcrm.privacy.audit import EXPORT, audit_action, customer_target
from tailorcrm.store import Store

FORMAT = "tailorcrm.customer-export/v1"
MAX_EVENTS = 10_000_000  # every event: an export is complete or it is not an export
FEEDBACK_FIELD = "recommendation_id"  # an event about a served recommendation is feedback

MANIFEST: dict[str, str] = {
    "profile": "The stored customer record: id, built-in consent columns and timestamps.",
    "custom_fields": "Each custom field value with the field's definition (type, pii flag, "
                     "description).",
    "consent": "Current consent per purpose (personalization, marketing) and when it was "
               "last set.",
    "consent_history": "Every recorded consent change (when the store keeps a history).",
    "events": "Every interaction stored for the customer (purchases, views, ...), newest "
              "first.",
    "feedback": "Events that answer a served recommendation (accepted, rejected, clicked), "
                "newest first; also part of events.",
    "segments": "Segment membership by segmentation.",
    "need_scores": "Predicted needs with their score, the model version and the reasons.",
    "recommendations": "The current precomputed recommendation list of every strategy, with "
                       "each item's reasons.",
}


def export_customer(store: Store, tid: int, customer_id: str, actor: str) -> dict[str, Any]:
    """Everything held about ``customer_id`` (see :data:`MANIFEST`), audited.

    NotFoundError when the tenant holds nothing of the customer.
    """
    if not store.holds_customer(tid, customer_id):
        raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)
    try:
        record = store.customers.get(tid, customer_id)
    except NotFoundError:
        record = None  # events only (a customer not created by the events' import)
    specs = {s.name: s for s in store.fields.list(tid, "customer")}
    events = [e.model_dump(mode="json") for e in store.events.for_customer(
        tid, customer_id, limit=MAX_EVENTS)]
    parts: dict[str, Any] = {
        "profile": None if record is None else record.model_dump(
            mode="json", exclude={"attributes"}),
        "custom_fields": [] if record is None else [
            {"name": name, "value": value,
             **({"type": str(specs[name].type), "pii": specs[name].pii,
                 "description": specs[name].description} if name in specs else {})}
            for name, value in sorted(record.attributes.items())],
        "consent": {} if record is None else {
            kind: {"state": getattr(record, f"consent_{kind}"),
                   "at": _iso(getattr(record, f"consent_{kind}_at"))}
            for kind in ("personalization", "marketing")},
        "consent_history": _consent_history(store, tid, customer_id),
        "events": events,
        "feedback": [e for e in events if FEEDBACK_FIELD in (e.get("attributes") or {})],
        "segments": store.segments.of_customer(tid, customer_id),
        "need_scores": [s.model_dump(mode="json") for s in
                        store.need_scores.for_customer(tid, customer_id).values()],
        "recommendations": _recommendations(store, tid, customer_id),
    }
    audit_action(store, tid, actor, EXPORT, customer_target(store, tid, customer_id),
                 {"counts": {k: _count(v) for k, v in parts.items()}})
    return {"format": FORMAT, "generator": f"tailorcrm {__version__}",
            "exported_at": dt.datetime.now(dt.UTC).isoformat(), "customer_id": customer_id,
            "manifest": {k: {"description": d, "count": _count(parts[k])}
                         for k, d in MANIFEST.items()},
            **parts}


def _recommendations(store: Store, tid: int, customer_id: str) -> list[dict[str, Any]]:
    found = []
    for strategy in sorted(store.recommendations.strategies(tid)):
        rec = store.recommendations.get(tid, strategy, customer_id)
        if rec is not None:
            found.append(rec.model_dump(mode="json"))
    return found


def _consent_history(store: Store, tid: int, customer_id: str) -> list[dict[str, Any]]:
    """Consent changes, when the store keeps them (``store.consent.history(tid,
    customer_id)``, revision 0008); empty otherwise."""
    consents = getattr(store, "consent", None)
    if consents is None or not hasattr(consents, "history"):
        return []
    return [r.model_dump(mode="json") if hasattr(r, "model_dump") else dict(r)
            for r in consents.history(tid, customer_id)]


def _count(value: Any) -> int:
    if value is None:
        return 0
    return len(value) if isinstance(value, list | dict) else 1


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()
