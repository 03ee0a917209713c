"""Next best actions for one stored customer: catalog, fields, segments, needs, lists, feedback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from tailorcrm.customize.actions import (
    DEFAULT_CATALOG,
    ActionCatalog,
    ActionRecommendation,
    load_catalog,
    rank_actions,
)
from tailorcrm.customize.budget import RequestBudget
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.feedback import recent_rejections
from tailorcrm.store import Store
from tailorcrm.store.records import CustomerRecord, ItemRecord


def customer_record_view(record: CustomerRecord, segments: Mapping[str, str]) -> dict[str, Any]:
    """The ``customer`` rule variable of a stored customer."""
    view: dict[str, Any] = {"customer_id": record.customer_id,
                            "consent_personalization": record.consent_personalization,
                            "consent_marketing": record.consent_marketing,
                            **record.attributes}
    view["segments"] = dict(segments)
    view.setdefault("segment", next(iter(segments.values()), None))
    return view


def item_record_view(record: ItemRecord) -> dict[str, Any]:
    """The ``item`` rule variable of a stored item."""
    cats = list(record.categories)
    return {"item_id": record.item_id, "title": record.title, "categories": cats,
            "category": cats[0] if cats else None, "price": record.price,
            "available": record.available, **record.attributes}


def stored_context(store: Store, tid: int, customer_id: str,
                   context: Mapping[str, Any] | None = None) -> RuleContext:
    """Fields, segments and need scores of a stored customer (NotFoundError if unknown)."""
    record = store.customers.get(tid, customer_id)
    segments = store.segments.of_customer(tid, customer_id)
    scores = store.need_scores.for_customer(tid, customer_id)
    needs = {n: float(r.score) for n, r in scores.items()}
    return RuleContext(customer=customer_record_view(record, segments), needs=needs,
                       segments=segments, context=dict(context or {}),
                       need_sources={n: r.source for n, r in scores.items()})


def stored_lists(store: Store, tid: int, customer_id: str, catalog: ActionCatalog, *,
                 item_cache: dict[str, dict[str, Any] | None] | None = None,
                 ) -> tuple[dict[str, list[Any]], dict[str, dict[str, Any]]]:
    """Precomputed lists of the strategies the catalog links to, and views of their items.

    ``item_cache`` (item id → view, None if absent) saves look-ups across customers.
    """
    cache = item_cache if item_cache is not None else {}
    lists: dict[str, list[Any]] = {}
    wanted: set[str] = {i for a in catalog.actions for i in a.linked_items}
    for strategy in {a.strategy for a in catalog.actions if a.strategy}:
        record = store.recommendations.get(tid, strategy, customer_id)
        entries = list(record.items) if record is not None else []
        lists[strategy] = entries
        wanted |= {e if isinstance(e, str) else str(e.get("item_id")) for e in entries}
    views = {}
    for item_id in sorted(wanted):
        if item_id not in cache:
            found = store.items.find(tid, item_id)
            cache[item_id] = None if found is None else item_record_view(found)
        view = cache[item_id]
        if view is not None:
            views[item_id] = view
    return lists, views


def actions_for_customer(store: Store, tid: int, customer_id: str, *,
                         catalog: ActionCatalog | str = DEFAULT_CATALOG,
                         context: Mapping[str, Any] | None = None,
                         now: dt.datetime | None = None, limit: int | None = None,
                         errors: dict[str, str] | None = None,
                         item_cache: dict[str, dict[str, Any] | None] | None = None,
                         budget: RequestBudget | None = None,
                         ) -> list[ActionRecommendation]:
    """A stored customer's ranked eligible actions with reasons and linked items.

    Actions the customer rejected less than ``suppress_days`` before ``now`` are left out.
    Expressions run under ``budget`` (see :func:`~tailorcrm.customize.actions.rank_actions`).
    """
    cat = catalog if isinstance(catalog, ActionCatalog) else load_catalog(
        store.configs, tid, catalog)
    if budget is not None and budget.refused is not None:
        # The tenant's limits refused rule evaluation (see customize/governor.py): every
        # action fails safe, without reading what its rules would have needed.
        store.customers.get(tid, customer_id)  # NotFoundError for an unknown customer
        for action in cat.actions:
            if action.enabled:
                message = f"rule budget exceeded: {budget.refused}"
                if errors is not None:
                    errors[action.name] = message
                budget.report(action.name, "budget", budget.refused, message)
        return []
    ctx = stored_context(store, tid, customer_id, context)
    lists, views = stored_lists(store, tid, customer_id, cat, item_cache=item_cache)
    moment = now or dt.datetime.now(dt.UTC)
    rejected = recent_rejections(store, tid, customer_id, now=moment)
    suppressed = set()
    for action in cat.actions:
        when = rejected.get(action.name)
        if when is not None and moment - when < dt.timedelta(days=action.suppress_days):
            suppressed.add(action.name)
    return rank_actions(cat, ctx, recommended=lists, items=views,
                        suppressed=frozenset(suppressed), limit=limit, errors=errors,
                        budget=budget)
