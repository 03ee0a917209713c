"""Per-customer insights: need scores with reasons, next best actions; the tenant's segments."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import Counter
from pydantic import BaseModel

from tailorcrm.api.deps import Reader, StoreDep
from tailorcrm.api.params import CustomerIdPath
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.customize.actions import DEFAULT_CATALOG
from tailorcrm.customize.budget import RequestBudget
from tailorcrm.customize.governor import TenantGovernor
from tailorcrm.customize.nba import Made, actions_from_cache, answer_valid_until
from tailorcrm.experiments.serving import action_arm, experiment_on
from tailorcrm.privacy.consent import WITHHELD_PROFILING, allows
from tailorcrm.serving.actions_cache import ActionsCache

router = APIRouter(tags=["insights"],
                   responses=error_responses(*AUTHENTICATED, 404, 409, 503))
_SETUP = threading.Lock()


class NeedPublic(BaseModel):
    """One need's score for the customer."""

    need: str
    score: float
    model_version: str
    reasons: list[Any]
    scored_at: dt.datetime | None
    source: Literal["model", "baseline"] = "model"
    """``baseline``: the need's model did not beat its baseline, so the baseline scored."""


class NeedsPublic(BaseModel):
    """Every scored need of one customer, highest first; none while the customer's profiling
    consent is denied (``withheld`` then says so)."""

    customer_id: str
    needs: list[NeedPublic]
    withheld: str | None = None


class ActionPublic(BaseModel):
    """One eligible next best action."""

    action: str
    kind: str
    title: str
    channel: str
    priority: float
    value: float
    items: list[str]
    reasons: list[dict[str, Any]]


class RuleErrorPublic(BaseModel):
    """An action whose eligibility or value expression failed safe (the action was skipped)."""

    name: str
    reason: str  # "budget" (a cost or tenant limit) or "eval" (an evaluation error)
    limit: str | None
    message: str


class ActionsPublic(BaseModel):
    """The customer's ranked eligible actions."""

    customer_id: str
    catalog: str
    actions: list[ActionPublic]
    rule_errors: list[RuleErrorPublic] = []


class SegmentsPublic(BaseModel):
    """Segment sizes per segmentation."""

    segmentations: dict[str, dict[str, int]]


@router.get("/v1/customers/{customer_id}/needs", response_model=NeedsPublic)
def get_needs(principal: Reader, store: StoreDep, customer_id: CustomerIdPath) -> Any:
    """Predicted needs of one customer with reasons (from the last training run).

    A customer whose profiling consent is denied gets no scores (`needs` empty, `withheld`
    set) from the next request on, without retraining; 404 for an unknown customer.
    """
    record = store.customers.get(principal.tid, customer_id)
    if not allows(record.consent_profiling):
        return NeedsPublic(customer_id=customer_id, needs=[], withheld=WITHHELD_PROFILING)
    scores = store.need_scores.for_customer(principal.tid, customer_id)
    needs = sorted(scores.values(), key=lambda r: -r.score)
    return NeedsPublic(customer_id=customer_id, needs=[NeedPublic(
        need=r.need, score=r.score, model_version=r.model_version, reasons=r.reasons,
        scored_at=r.scored_at, source=r.source) for r in needs])


class _RuleLimiter:
    """The app's per-tenant governor of rule evaluation and its Prometheus counter."""

    def __init__(self, app: FastAPI) -> None:
        self.limits = app.state.settings.rule_limits
        self.governor = TenantGovernor(self.limits)
        self.failed = Counter("tailorcrm_rule_budget_exceeded_total",
                              "Rule evaluations stopped by a cost budget or tenant limit.",
                              ["tenant", "limit"], registry=app.state.metrics.registry)


def _limiter(app: FastAPI) -> _RuleLimiter:
    with _SETUP:
        found: _RuleLimiter | None = getattr(app.state, "rule_limiter", None)
        if found is None:
            found = app.state.rule_limiter = _RuleLimiter(app)
    return found


def _actions_cache(app: FastAPI) -> ActionsCache:
    """The worker's next-best-action cache: the model cache's (which touches it on every
    write through this worker), else one made here on first use."""
    found: ActionsCache | None = getattr(app.state.cache, "actions", None)
    if found is not None:
        return found
    with _SETUP:
        found = getattr(app.state, "actions_cache", None)
        if found is None:
            found = app.state.actions_cache = ActionsCache(app.state.store)
            _bridge_touch(app.state.cache, found)
    return found


def _bridge_touch(models: Any, actions: ActionsCache) -> None:
    """Until ``ModelCache.touch`` calls ``ActionsCache.touch`` itself (serving/cache.py), a
    write through this worker (which touches the model cache) touches this cache too."""
    touch = models.touch

    def both(tid: int) -> None:
        touch(tid)
        actions.touch(tid)

    models.touch = both


@router.get("/v1/customers/{customer_id}/next-best-actions", response_model=ActionsPublic)
async def get_next_best_actions(request: Request, principal: Reader,
                                customer_id: CustomerIdPath,
                                limit: int = Query(5, ge=1, le=100),
                                catalog: str = Query(DEFAULT_CATALOG, min_length=1,
                                                     max_length=100),
                                ) -> Any:
    """The customer's eligible actions from the stored catalog, ranked, with reasons.

    Expressions run under the tenant's rule budget (waiting, without holding a thread, for
    the tenant's turn); an action whose expression fails or exceeds the budget is skipped
    and listed in ``rule_errors``. Served from the worker's memory (serving/actions_cache.py):
    an answer whose inputs did not change is sent again without running a rule.
    """
    state = request.app.state
    if experiment_on(state.cache, state.store, principal.tid, "next_best_actions",
                     catalog) is not False:  # an A/B test of catalogs may take this over
        arm = await run_in_threadpool(action_arm, state.store, state.cache, principal.tid,
                                      catalog, customer_id, state.exposures)
        if arm is not None and arm.serves is None:  # the control: no action
            return ActionsPublic(customer_id=customer_id, catalog=catalog, actions=[])
        catalog = arm.serves if arm is not None and arm.serves else catalog
    fast = _actions_cache(request.app)
    now = dt.datetime.now(dt.UTC)
    known = fast.answer(principal.tid, customer_id, catalog, limit, now)
    if known is None:  # marks or the catalog due for reading: off the event loop
        known = await run_in_threadpool(fast.answer_synced, principal.tid, customer_id,
                                        catalog, limit, now)
    if known is not None:
        return Response(known, media_type="application/json")
    limiter = _limiter(request.app)
    budget = RequestBudget(limiter.limits, tenant=principal.tenant)
    made: list[Made] = []
    async with limiter.governor.admit(principal.tenant, budget):
        found = await run_in_threadpool(actions_from_cache, fast, principal.tid, customer_id,
                                        catalog=catalog, limit=limit, budget=budget,
                                        made=made)
    for failure in budget.exceeded:
        limiter.failed.labels(principal.tenant, failure.limit or "budget").inc()
    body = orjson.dumps(ActionsPublic(
        customer_id=customer_id, catalog=catalog,
        actions=[ActionPublic(**a.to_dict()) for a in found],
        rule_errors=[RuleErrorPublic(**f.to_dict()) for f in budget.failures]).model_dump())
    if made and not budget.exceeded:  # a budget's failure is no answer to keep
        fast.remember(principal.tid, customer_id, catalog, limit, made[0].inputs,
                      made[0].version, answer_valid_until(made[0].inputs, made[0].moment),
                      body)
    return Response(body, media_type="application/json")


@router.get("/v1/segments", response_model=SegmentsPublic)
def get_segments(principal: Reader, store: StoreDep) -> Any:
    """Every segmentation of the tenant with its segment sizes."""
    return SegmentsPublic(segmentations=store.segments.list(principal.tid))
