"""The customer 360 page: profile, consent, timeline, segments, needs, lists and actions.

Every part is what the API serves for the customer (same consent rules, same pipeline, same
next-best-action ranking under the tenant's rule budget); the page only gathers them.
"""

from __future__ import annotations

from typing import Any

import orjson

from tailorcrm.customize.budget import RequestBudget
from tailorcrm.customize.configs import STRATEGY_KIND
from tailorcrm.customize.nba import actions_for_customer
from tailorcrm.errors import NotFittedError, TailorCRMError
from tailorcrm.privacy.consent import WITHHELD_PROFILING, allows
from tailorcrm.schema.fields import mask_pii
from tailorcrm.serving import recommend as service
from tailorcrm.serving.cache import ModelCache
from tailorcrm.settings import Settings
from tailorcrm.store import Store
from tailorcrm.store.consent import PURPOSES

TIMELINE = 100
LIST_LENGTH = 10


def strategy_names(store: Store, tid: int) -> list[str]:
    """``default`` first, then the tenant's stored strategies."""
    stored = sorted({c.name for c in store.configs.list(tid, STRATEGY_KIND)} - {"default"})
    return ["default", *stored]


def recommendation_list(store: Store, cache: ModelCache, tid: int, customer_id: str,
                        strategy: str, *, n: int = LIST_LENGTH) -> dict[str, Any]:
    """One strategy's list as served (``recommendation_id``, source, items with reasons), or
    ``error`` saying why there is none."""
    try:
        served = service.recommend(store, cache, tid, customer_id, n=n, strategy=strategy)
    except NotFittedError:
        return {"strategy": strategy, "error": "no trained recommender yet: start training "
                                               "on the Jobs page"}
    except TailorCRMError as exc:
        return {"strategy": strategy, "error": exc.message}
    items = orjson.loads(served.items_json)
    titles = store.console.item_titles(tid, [i["item_id"] for i in items])
    for item in items:
        item["title"] = titles.get(item["item_id"], "")
    return {"strategy": strategy, "recommendation_id": served.recommendation_id,
            "model_version": served.model_version, "source": served.source, "entries": items}


def _timeline(store: Store, tid: int, customer_id: str) -> list[dict[str, Any]]:
    events = store.events.for_customer(tid, customer_id, limit=TIMELINE)
    titles = store.console.item_titles(tid, [e.item_id for e in events if e.item_id])
    return [{"ts": e.ts, "type": e.type, "item_id": e.item_id,
             "title": titles.get(e.item_id or "", ""), "value": e.value,
             "attributes": {k: v for k, v in e.attributes.items() if v is not None}}
            for e in events]


def customer_360(store: Store, cache: ModelCache, settings: Settings, tid: int, tenant: str,
                 customer_id: str, *, unmasked: bool) -> dict[str, Any]:
    """Everything the page shows; NotFoundError for a customer the tenant does not hold.

    ``unmasked``: pii fields in clear (keys with the write scope), else ``***``."""
    record = store.customers.get(tid, customer_id)
    fields = store.fields.list(tid, "customer")
    attributes = record.attributes if unmasked else mask_pii(fields, record.attributes)
    described = {f.name: f for f in fields}
    profile = [{"name": k, "value": v, "description": described[k].description
                if k in described else "", "pii": bool(k in described and described[k].pii)}
               for k, v in sorted(attributes.items())]
    consent = [{"purpose": p, "state": getattr(record, f"consent_{p}"),
                "at": getattr(record, f"consent_{p}_at"),
                "source": getattr(record, f"consent_{p}_source")} for p in PURPOSES]
    needs: list[Any] = []
    withheld = None
    if allows(record.consent_profiling):
        needs = sorted(store.need_scores.for_customer(tid, customer_id).values(),
                       key=lambda r: -r.score)
    else:
        withheld = WITHHELD_PROFILING
    errors: dict[str, str] = {}
    budget = RequestBudget(settings.rule_limits, tenant=tenant)
    try:
        actions = [a.to_dict() for a in actions_for_customer(
            store, tid, customer_id, limit=5, errors=errors, budget=budget)]
        action_error = None
    except TailorCRMError as exc:
        actions, action_error = [], exc.message
    return {"customer_id": customer_id, "record": record, "profile": profile,
            "consent": consent,
            "consent_history": store.consent.history(tid, customer_id, limit=20),
            "timeline": _timeline(store, tid, customer_id),
            "segments": store.segments.of_customer(tid, customer_id),
            "needs": needs, "withheld": withheld,
            "lists": [recommendation_list(store, cache, tid, customer_id, s)
                      for s in strategy_names(store, tid)],
            "actions": actions, "action_errors": errors, "action_error": action_error}
