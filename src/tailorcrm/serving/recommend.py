"""Serving one customer's list of any strategy: precomputed when fresh, else online; similar items.

Every strategy (the shipped ``default`` and each named one) goes through the same
:class:`~tailorcrm.customize.pipeline.Pipeline`. A request reads no database when nothing
changed for the customer: the model, the strategy, the fresh precomputed lists and what
changed since training (the change feed) are held in memory (:mod:`tailorcrm.serving.cache`,
:mod:`tailorcrm.serving.tenant_model`). A customer with events or a consent change since their
list was made, or without a fresh list, is scored online, their new events folded in.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from tailorcrm.customize.precompute import rule_reads, strategy_model_name
from tailorcrm.customize.strategies import DEFAULT_STRATEGY, Strategy
from tailorcrm.errors import NotFittedError, NotFoundError
from tailorcrm.experiments.exposures import ExposureSink
from tailorcrm.experiments.serving import Arm, arm_in, experiments_of
from tailorcrm.serving.cache import ModelCache
from tailorcrm.serving.rec_ids import (
    REC_ID_PURPOSE,
    RecommendationRef,
    make_recommendation_id,
    parse_recommendation_id,
    recommendation_key,
    verified_recommendation,
)
from tailorcrm.serving.tenant_model import TenantModel
from tailorcrm.store import Store
from tailorcrm.store.experiments import ExposureRow

__all__ = ["DEFAULT_STRATEGY", "REC_ID_PURPOSE", "RecommendationRef", "ServedList",
           "make_recommendation_id", "parse_recommendation_id", "ready_list", "recommend",
           "recommendation_key", "similar_items", "verified_recommendation"]

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ServedList:
    """What the recommendation endpoint answers, and where it came from.

    ``items_json`` is the items' JSON array, ready to send (:meth:`body`).
    """

    recommendation_id: str
    model_version: str
    source: str  # "precomputed" or "online"
    items_json: bytes

    @property
    def items(self) -> list[dict[str, Any]]:
        """The items as dicts."""
        return list(orjson.loads(self.items_json))

    def body(self) -> bytes:
        """The response document, serialised once."""
        head = orjson.dumps({"recommendation_id": self.recommendation_id,
                             "model_version": self.model_version, "source": self.source})
        return head[:-1] + b',"items":' + self.items_json + b"}"


def _require_customer(store: Store, tid: int, entry: TenantModel | None,
                      customer_id: str) -> None:
    """NotFoundError unless the tenant holds the customer; memory answers for customers of
    the model and those created since, the store for anyone else (and the erased)."""
    known = entry.known(customer_id) if entry is not None else None
    if known and entry is not None and (
            entry.data.customer_vocab.index_of(customer_id) >= 0
            or not entry.erased(customer_id, store.tombstones.hasher(tid))):
        return
    if not store.holds_customer(tid, customer_id, events=known is None and entry is not None):
        raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)


def _model_of(store: Store, cache: ModelCache, tid: int, strategy: Strategy
              ) -> TenantModel | None:
    """The model a strategy ranks with: its own when it has one trained, else the tenant's."""
    if not strategy.uses_tenant_model:
        own = cache.get(tid, strategy_model_name(strategy.name))
        if own is not None:
            return own
        log.info("tenant %d: strategy %s has no trained model of its own yet; ranking with "
                 "the tenant's model", tid, strategy.name)
    return cache.get(tid)


def _arm(store: Store, cache: ModelCache, tid: int, placement: str, customer_id: str
         ) -> Arm | None:
    """The experiment arm the customer's list of ``placement`` is served under, if any."""
    found = experiments_of(cache, store).running(tid)
    if ("recommendations", placement) not in found:
        return None
    entry = cache.get(tid)
    consented = entry.ranker.personalized(customer_id) if entry is not None else True
    return arm_in(found, tid, "recommendations", placement, customer_id, consented)


def _exposed(served: ServedList, tid: int, customer_id: str, arm: Arm | None,
             exposures: ExposureSink | None) -> ServedList:
    """``served``, its exposure handed to ``exposures`` when it was served under an arm."""
    if arm is not None and exposures is not None:
        exposures.add(ExposureRow(tid, arm.pair[0], arm.pair[1], customer_id,
                                  dt.datetime.now(dt.UTC), arm.assignment.consented))
    return served


def recommend(store: Store, cache: ModelCache, tid: int, customer_id: str, *, n: int = 10,
              strategy: str = DEFAULT_STRATEGY, reasons: bool = True,
              exposures: ExposureSink | None = None) -> ServedList:
    """A customer's top ``n`` of ``strategy``, with reasons unless ``reasons`` is False.

    The precomputed list is served when it was made by the model version and strategy config
    now active and the customer has not changed since; otherwise the list is scored online
    by the same pipeline, folding in the customer's newer events. NotFoundError for an
    unknown strategy or customer; NotFittedError when the tenant has no trained model yet.

    When an experiment runs on ``strategy`` (its placement), the customer's variant's
    strategy is served instead, the recommendation id carries the experiment and variant,
    and the exposure goes to ``exposures`` (the API's log; previews pass none).
    """
    arm = _arm(store, cache, tid, strategy, customer_id)
    served = arm.serves or strategy if arm is not None else strategy
    return _exposed(_recommend(store, cache, tid, customer_id, n=n, strategy=served,
                               reasons=reasons, arm=arm), tid, customer_id, arm, exposures)


def _recommend(store: Store, cache: ModelCache, tid: int, customer_id: str, *, n: int,
               strategy: str, reasons: bool, arm: Arm | None) -> ServedList:
    """:func:`recommend` of the strategy actually served."""
    strat, rules = cache.strategies.get(tid, strategy)
    entry = _model_of(store, cache, tid, strat)
    if entry is None:
        _require_customer(store, tid, None, customer_id)
        raise NotFittedError("no trained recommender yet: POST /v1/jobs/train first")
    _require_customer(store, tid, entry, customer_id)
    pipeline, chash = entry.pipeline(strat, rules)
    rec_id = make_recommendation_id(recommendation_key(store, tid), customer_id, strategy,
                                    entry.version, arm=arm.pair if arm is not None else None)
    if not entry.changed(customer_id):
        lists = entry.lists(store, tid, strategy, chash)
        if reasons:
            ready = lists.items_json(customer_id, n)
            if ready is not None:
                return ServedList(rec_id, entry.version, "precomputed", ready)
        else:
            found = lists.items(customer_id, n)
            if found is not None:
                lean = [{**i, "reasons": []} for i in found]
                return ServedList(rec_id, entry.version, "precomputed", orjson.dumps(lean))
    kept = entry.online_list(strategy, chash, customer_id, n, reasons)
    if kept is not None:
        return ServedList(rec_id, entry.version, "online", kept)
    extra = None
    if rule_reads(pipeline.rules):
        held = store.customers.find(tid, customer_id)
        profiled = held is None or held.consent_profiling != "denied"  # else: no need scores
        extra = {"segments": store.segments.of_customer(tid, customer_id),
                 "needs": {k: r.score for k, r in store.need_scores.for_customer(
                     tid, customer_id).items()} if profiled else {}}
    result = pipeline.recommend(customer_id, n, extra=extra, explain=reasons)
    body = orjson.dumps(result.item_dicts())
    entry.keep_online(strategy, chash, customer_id, n, reasons, body)  # until they change
    return ServedList(rec_id, entry.version, "online", body)


def ready_list(store: Store, cache: ModelCache, tid: int, customer_id: str, *, n: int = 10,
               strategy: str = DEFAULT_STRATEGY,
               exposures: ExposureSink | None = None) -> ServedList | None:
    """:func:`recommend`'s answer when it is a fresh precomputed list already in memory (no
    I/O, so the API takes it on the event loop); None sends the caller to :func:`recommend`."""
    running = experiments_of(cache, store).peek(tid)
    if running is None:
        return None
    arm = None
    placement = strategy
    if ("recommendations", placement) in running:
        base = cache.peek(tid)
        if base is None:
            return None
        arm = arm_in(running, tid, "recommendations", placement, customer_id,
                     base.ranker.personalized(customer_id))
        strategy = arm.serves or placement if arm is not None else placement
    found = cache.strategies.peek(tid, strategy)
    if found is None or not found[0].uses_tenant_model:
        return None
    strat, rules = found
    entry = cache.peek(tid)
    if entry is None:
        return None
    ready = entry.ready_list(strat, rules, customer_id, n)
    if ready is None:
        return None
    rec_id = make_recommendation_id(recommendation_key(store, tid), customer_id, strategy,
                                    entry.version, arm=arm.pair if arm is not None else None)
    return _exposed(ServedList(rec_id, entry.version, ready[1], ready[0]), tid, customer_id,
                    arm, exposures)


def similar_items(store: Store, cache: ModelCache, tid: int, item_id: str,
                  n: int = 10) -> tuple[str, list[tuple[str, float]]]:
    """``(model_version, [(item_id, similarity)])``; NotFoundError for an unknown item."""
    entry = cache.get(tid)
    if store.items.find(tid, item_id) is None and (
            entry is None or entry.data.item_vocab.index_of(item_id) < 0):
        raise NotFoundError(f"no item {item_id!r}", item_id=item_id)
    if entry is None:
        raise NotFittedError("no trained recommender yet: POST /v1/jobs/train first")
    return entry.version, entry.similar(item_id, n)
