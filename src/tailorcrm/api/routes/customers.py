"""Customers: upsert, read and erase one; upsert many."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.api.deps import CacheDep, Reader, StoreDep, Writer
from tailorcrm.api.params import CustomerIdPath, ExternalId
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.errors import NotFoundError
from tailorcrm.store.records import Consent

router = APIRouter(tags=["customers"],
                   responses=error_responses(*AUTHENTICATED, 404, 413))

MAX_BATCH = 10_000


class CustomerCreate(BaseModel):
    """A customer's values; an upsert changes only what is given (``null`` clears a field)."""

    model_config = ConfigDict(extra="forbid")

    attributes: dict[str, Any] = Field(default_factory=dict,
                                       description="Custom field values by field name.")
    consent_personalization: Consent | None = None
    consent_marketing: Consent | None = None


class CustomerBatchRow(CustomerCreate):
    """One row of a batch upsert."""

    customer_id: ExternalId


class CustomerBatch(BaseModel):
    """Up to 10,000 customers, written all or nothing."""

    model_config = ConfigDict(extra="forbid")

    customers: list[CustomerBatchRow] = Field(min_length=1, max_length=MAX_BATCH)


class CustomerPublic(BaseModel):
    """A stored customer."""

    customer_id: str
    attributes: dict[str, Any]
    consent_personalization: Consent
    consent_marketing: Consent
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class UpsertPublic(BaseModel):
    """How many rows were inserted and how many updated."""

    inserted: int
    updated: int


def _row(customer_id: str, body: CustomerCreate) -> dict[str, Any]:
    row = body.model_dump(exclude_unset=True, exclude={"customer_id"})
    return {"customer_id": customer_id, **row}


@router.put("/v1/customers/{customer_id}", response_model=CustomerPublic)
def put_customer(principal: Writer, store: StoreDep, cache: CacheDep, body: CustomerCreate,
                 customer_id: CustomerIdPath) -> Any:
    """Create or update one customer."""
    store.customers.upsert(principal.tid, [_row(customer_id, body)])
    cache.touch(principal.tid)  # a consent change applies to this worker's next list
    return store.customers.get(principal.tid, customer_id).model_dump()


@router.get("/v1/customers/{customer_id}", response_model=CustomerPublic)
def get_customer(principal: Reader, store: StoreDep, customer_id: CustomerIdPath) -> Any:
    """One customer."""
    return store.customers.get(principal.tid, customer_id).model_dump()


@router.delete("/v1/customers/{customer_id}", status_code=204)
def delete_customer(principal: Writer, store: StoreDep, cache: CacheDep,
                    customer_id: CustomerIdPath) -> Response:
    """Erase a customer with their events, segments, need scores and lists (right to erasure)."""
    counts = store.erase_customer(principal.tid, customer_id)
    cache.touch(principal.tid)  # the served model forgets them on the next request
    if not counts.get("customers"):
        raise NotFoundError(f"no customer {customer_id!r}", customer_id=customer_id)
    return Response(status_code=204)


@router.post("/v1/customers:batch", response_model=UpsertPublic)
def batch_customers(principal: Writer, store: StoreDep, cache: CacheDep,
                    body: CustomerBatch) -> Any:
    """Upsert many customers, all or nothing (422 names each bad row)."""
    rows = [_row(r.customer_id, r) for r in body.customers]
    result = store.customers.upsert(principal.tid, rows)
    cache.touch(principal.tid)
    return UpsertPublic(inserted=result.inserted, updated=result.updated)
