"""Per-customer insights: need scores with reasons, next best actions; the tenant's segments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tailorcrm.api.deps import Reader, StoreDep
from tailorcrm.api.params import CustomerIdPath
from tailorcrm.customize.actions import DEFAULT_CATALOG
from tailorcrm.customize.nba import actions_for_customer

router = APIRouter(tags=["insights"])


class NeedPublic(BaseModel):
    """One need's score for the customer."""

    need: str
    score: float
    model_version: str
    reasons: list[Any]
    scored_at: dt.datetime | None


class NeedsPublic(BaseModel):
    """Every scored need of one customer, highest first."""

    customer_id: str
    needs: list[NeedPublic]


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


class ActionsPublic(BaseModel):
    """The customer's ranked eligible actions."""

    customer_id: str
    catalog: str
    actions: list[ActionPublic]


class SegmentsPublic(BaseModel):
    """Segment sizes per segmentation."""

    segmentations: dict[str, dict[str, int]]


@router.get("/v1/customers/{customer_id}/needs", response_model=NeedsPublic)
def get_needs(principal: Reader, store: StoreDep, customer_id: CustomerIdPath) -> Any:
    """Predicted needs of one customer with reasons (from the last training run)."""
    store.customers.get(principal.tid, customer_id)
    scores = store.need_scores.for_customer(principal.tid, customer_id)
    needs = sorted(scores.values(), key=lambda r: -r.score)
    return NeedsPublic(customer_id=customer_id, needs=[NeedPublic(
        need=r.need, score=r.score, model_version=r.model_version, reasons=r.reasons,
        scored_at=r.scored_at) for r in needs])


@router.get("/v1/customers/{customer_id}/next-best-actions", response_model=ActionsPublic)
def get_next_best_actions(principal: Reader, store: StoreDep, customer_id: CustomerIdPath,
                          limit: int = Query(5, ge=1, le=100),
                          catalog: str = Query(DEFAULT_CATALOG, min_length=1, max_length=100),
                          ) -> Any:
    """The customer's eligible actions from the stored catalog, ranked, with reasons."""
    store.customers.get(principal.tid, customer_id)
    found = actions_for_customer(store, principal.tid, customer_id, catalog=catalog,
                                 limit=limit)
    return ActionsPublic(customer_id=customer_id, catalog=catalog,
                         actions=[ActionPublic(**a.to_dict()) for a in found])


@router.get("/v1/segments", response_model=SegmentsPublic)
def get_segments(principal: Reader, store: StoreDep) -> Any:
    """Every segmentation of the tenant with its segment sizes."""
    return SegmentsPublic(segmentations=store.segments.list(principal.tid))
