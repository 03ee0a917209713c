"""Recommendations for a customer, similar items, and feedback attributed to a recommendation."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from tailorcrm.api.deps import CacheDep, Reader, StoreDep, Writer
from tailorcrm.api.params import CustomerIdPath, ExternalId, ItemIdPath
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.serving import recommend as service
from tailorcrm.serving.feedback import record_feedback

router = APIRouter(tags=["recommendations"],
                   responses=error_responses(*AUTHENTICATED, 404, 409, 413, 503))



class ReasonPublic(BaseModel):
    """Why an item is recommended."""

    model_config = ConfigDict(extra="allow")

    kind: str
    label: str


class RecommendedItem(BaseModel):
    """One recommended item."""

    item_id: str
    score: float
    reasons: list[dict[str, Any]]


class RecommendationsPublic(BaseModel):
    """A customer's list, with the id to send feedback to."""

    recommendation_id: str
    model_version: str
    source: Literal["precomputed", "online"]
    items: list[RecommendedItem]


class SimilarItem(BaseModel):
    """An item chosen by the same customers."""

    item_id: str
    score: float


class SimilarPublic(BaseModel):
    """Items similar to one item."""

    item_id: str
    model_version: str
    items: list[SimilarItem]


class FeedbackCreate(BaseModel):
    """What the customer did with one recommended item."""

    model_config = ConfigDict(extra="forbid")

    item_id: ExternalId
    outcome: Literal["accepted", "rejected", "clicked", "purchased"]
    value: float | None = Field(None, allow_inf_nan=False,
                                description="Optional value (e.g. revenue of a purchase).")
    timestamp: dt.datetime | None = Field(
        None, validation_alias=AliasChoices("timestamp", "ts"),
        description="When it happened (default: now); `ts` is accepted as an alias.")


class FeedbackPublic(BaseModel):
    """Whether the feedback was stored now (False: the same feedback was stored before)."""

    recommendation_id: str
    customer_id: str
    event_type: str
    recorded: bool


@router.get("/v1/customers/{customer_id}/recommendations", response_model=RecommendationsPublic)
async def get_recommendations(principal: Reader, store: StoreDep, cache: CacheDep,
                              request: Request,
                        customer_id: CustomerIdPath,
                        n: int = Query(10, ge=1, le=100),
                        strategy: str = Query(service.DEFAULT_STRATEGY, min_length=1,
                                              max_length=100),
                        reasons: bool = Query(True, description="False leaves reasons out "
                                                                "(online lists are faster)."),
                        ) -> Any:
    """The customer's top ``n`` of a strategy (``default``: the tenant's chosen model) with
    reasons: precomputed when fresh, else scored online by the same pipeline with the events
    that arrived after training folded in. Never 409 for a stale list."""
    # a fresh list already in memory is answered on the event loop (no I/O, no thread hop);
    # anything else (online scoring, first loads, the change feed's reads) in the threadpool
    exposures = request.app.state.exposures  # lists served under an experiment (buffered)
    served = service.ready_list(store, cache, principal.tid, customer_id, n=n,
                                strategy=strategy, exposures=exposures) if reasons else None
    if served is None:
        served = await run_in_threadpool(service.recommend, store, cache, principal.tid,
                                         customer_id, n=n, strategy=strategy, reasons=reasons,
                                         exposures=exposures)
    request.app.state.metrics.recommendations.labels(served.source).inc()
    # the body is built from prepared JSON (precomputed lists are kept serialised): no second
    # validation pass; ``response_model`` still documents its shape
    return Response(served.body(), media_type="application/json")


@router.get("/v1/items/{item_id}/similar", response_model=SimilarPublic)
def get_similar(principal: Reader, store: StoreDep, cache: CacheDep, item_id: ItemIdPath,
                n: int = Query(10, ge=1, le=100)) -> Any:
    """Items most often chosen by the customers who chose this one."""
    version, found = service.similar_items(store, cache, principal.tid, item_id, n)
    return SimilarPublic(item_id=item_id, model_version=version,
                         items=[SimilarItem(item_id=i, score=round(s, 6)) for i, s in found])


@router.post("/v1/recommendations/{recommendation_id}/feedback", response_model=FeedbackPublic,
             responses=error_responses(404))
def post_feedback(principal: Writer, store: StoreDep, cache: CacheDep, body: FeedbackCreate,
                  recommendation_id: str = Path(min_length=1, max_length=1000)) -> Any:
    """Record what the customer did with a recommended item, as an event attributed to the
    recommendation (idempotent: the same outcome for the same item is stored once).

    Only ids this tenant issued are accepted (they are signed); any other id, and an id of a
    customer erased since, answers 404.
    """
    done = record_feedback(store, principal.tid, recommendation_id, body.item_id,
                           body.outcome, value=body.value, timestamp=body.timestamp)
    cache.touch(principal.tid)  # a rejected item leaves this worker's next list at once
    return FeedbackPublic(recommendation_id=recommendation_id, customer_id=done.customer_id,
                          event_type=done.event_type, recorded=done.recorded)
