"""Next best actions for one stored customer: catalog, fields, segments, needs, lists, feedback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tailorcrm.customize.actions import (
    DEFAULT_CATALOG,
    ActionCatalog,
    ActionRecommendation,
    load_catalog,
    rank_actions,
)
from tailorcrm.customize.budget import RequestBudget
from tailorcrm.customize.context import RuleContext
from tailorcrm.customize.feedback import latest_by_action, recent_rejections
from tailorcrm.store import Store
from tailorcrm.store.records import CustomerRecord, ItemRecord

if TYPE_CHECKING:  # serving imports this module: no import cycle at run time
    from tailorcrm.serving.actions_cache import ActionsCache

REJECTIONS_READ = 500  # a customer's newest rejections that count (older ones are ignored)


def customer_record_view(record: CustomerRecord, segments: Mapping[str, str]) -> dict[str, Any]:
    """The ``customer`` rule variable of a stored customer."""
    return customer_fields_view(record.customer_id, record.consent_personalization,
                                record.consent_marketing, record.attributes, segments)


def customer_fields_view(customer_id: str, consent_personalization: str,
                         consent_marketing: str, attributes: Mapping[str, Any],
                         segments: Mapping[str, str]) -> dict[str, Any]:
    """The ``customer`` rule variable from a customer's stored columns and segments."""
    view: dict[str, Any] = {"customer_id": customer_id,
                            "consent_personalization": consent_personalization,
                            "consent_marketing": consent_marketing, **attributes}
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
    scores = {} if record.consent_profiling == "denied" else \
        store.need_scores.for_customer(tid, customer_id)  # profiling denied: no need scores
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


@dataclass(frozen=True)
class ActionInputs:
    """Everything :func:`rank_actions` needs of one customer, from the store or a cache.

    ``rejections`` holds the customer's rejections as ``(ts, action)``, newest first (as
    :func:`~tailorcrm.customize.feedback.recent_rejections` reads them).
    """

    catalog: ActionCatalog
    context: RuleContext
    lists: Mapping[str, list[Any]]
    items: Mapping[str, Mapping[str, Any]]
    rejections: Sequence[tuple[dt.datetime, str]] = ()


def suppressed_actions(catalog: ActionCatalog, rejected: Mapping[str, dt.datetime],
                       moment: dt.datetime) -> frozenset[str]:
    """The actions rejected less than their ``suppress_days`` before ``moment``."""
    out = set()
    for action in catalog.actions:
        when = rejected.get(action.name)
        if when is not None and moment - when < dt.timedelta(days=action.suppress_days):
            out.add(action.name)
    return frozenset(out)


def refuse_all(catalog: ActionCatalog, budget: RequestBudget,
               errors: dict[str, str] | None = None) -> list[ActionRecommendation]:
    """Every enabled action fails safe (the tenant's limits refused rule evaluation)."""
    for action in catalog.actions:
        if action.enabled:
            message = f"rule budget exceeded: {budget.refused}"
            if errors is not None:
                errors[action.name] = message
            budget.report(action.name, "budget", budget.refused, message)
    return []


def rank_inputs(inputs: ActionInputs, *, now: dt.datetime | None = None,
                limit: int | None = None, errors: dict[str, str] | None = None,
                budget: RequestBudget | None = None) -> list[ActionRecommendation]:
    """Ranked eligible actions from a customer's :class:`ActionInputs` (the one ranking both
    :func:`actions_for_customer` and the serving cache use)."""
    moment = now or dt.datetime.now(dt.UTC)
    rejected = latest_by_action(inputs.rejections[:REJECTIONS_READ], now=moment)
    return rank_actions(inputs.catalog, inputs.context, recommended=inputs.lists,
                        items=inputs.items,
                        suppressed=suppressed_actions(inputs.catalog, rejected, moment),
                        limit=limit, errors=errors, budget=budget)


def answer_valid_until(inputs: ActionInputs, moment: dt.datetime) -> dt.datetime | None:
    """When a ranking made at ``moment`` may change by time alone (a future-dated rejection
    starts counting, or a suppression ends); None when never."""
    bounds = []
    by_name = {a.name: a for a in inputs.catalog.actions}
    for ts, name in inputs.rejections[:REJECTIONS_READ]:
        action = by_name.get(name)
        if action is None:
            continue
        for bound in (ts, ts + dt.timedelta(days=action.suppress_days)):
            if bound > moment:
                bounds.append(bound)
    return min(bounds) if bounds else None


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
        return refuse_all(cat, budget, errors)
    ctx = stored_context(store, tid, customer_id, context)
    lists, views = stored_lists(store, tid, customer_id, cat, item_cache=item_cache)
    moment = now or dt.datetime.now(dt.UTC)
    rejected = recent_rejections(store, tid, customer_id, now=moment, limit=REJECTIONS_READ)
    return rank_actions(cat, ctx, recommended=lists, items=views,
                        suppressed=suppressed_actions(cat, rejected, moment), limit=limit,
                        errors=errors, budget=budget)


@dataclass(frozen=True)
class Made:
    """What a cached answer was made from: the inputs, the cache's state version, the time."""

    inputs: ActionInputs
    version: int
    moment: dt.datetime


def actions_from_cache(cache: ActionsCache, tid: int, customer_id: str, *,
                       catalog: str = DEFAULT_CATALOG,
                       context: Mapping[str, Any] | None = None,
                       now: dt.datetime | None = None, limit: int | None = None,
                       errors: dict[str, str] | None = None,
                       budget: RequestBudget | None = None,
                       made: list[Made] | None = None) -> list[ActionRecommendation]:
    """:func:`actions_for_customer` from the worker's in-memory state (no store read when
    nothing changed): the same answer, within the cache's bounds (serving/actions_cache.py).

    ``made`` receives what the answer was made from (to keep it: ``ActionsCache.remember``).
    """
    cat = cache.catalog(tid, catalog)
    if budget is not None and budget.refused is not None:
        cache.known(tid, customer_id)  # NotFoundError for an unknown customer
        return refuse_all(cat, budget, errors)
    inputs, version = cache.inputs(tid, customer_id, catalog, context)
    moment = now or dt.datetime.now(dt.UTC)
    found = rank_inputs(inputs, now=moment, limit=limit, errors=errors, budget=budget)
    if made is not None:
        made.append(Made(inputs, version, moment))
    return found
