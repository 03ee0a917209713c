"""Customers: upsert, read, erase and export one; upsert many; consent and its history.

Custom fields flagged ``pii`` read as ``***`` for keys without the write or admin scope.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.api.deps import Admin, CacheDep, Reader, StoreDep, Writer
from tailorcrm.api.params import CustomerIdPath, ExternalId
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.api.routes.privacy import Actor
from tailorcrm.errors import PermissionDeniedError
from tailorcrm.privacy.erasure import erase
from tailorcrm.privacy.export import export_customer
from tailorcrm.schema.fields import mask_pii
from tailorcrm.store.consent import PURPOSES, ConsentEvent
from tailorcrm.store.consent import Source as ConsentSource
from tailorcrm.store.keys import has_scope
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
    consent_profiling: Consent | None = Field(
        None, description="Profiling for needs: need scores are scored and served only when "
                          "not denied.")


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
    consent_profiling: Consent = "unknown"
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class PurposePublic(BaseModel):
    """One purpose's current consent: the state, when it was set and where it came from."""

    state: Consent
    at: dt.datetime | None
    source: ConsentSource | None


class ConsentPublic(BaseModel):
    """A customer's consent per purpose now, and its changes (oldest first)."""

    customer_id: str
    purposes: dict[str, PurposePublic]
    history: list[ConsentEvent]


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
    """One customer (pii fields read as `***` for a key without the write scope)."""
    record = store.customers.get(principal.tid, customer_id).model_dump()
    if not has_scope(principal.scopes, "write"):
        record["attributes"] = mask_pii(store.fields.list(principal.tid, "customer"),
                                        record["attributes"])
    return record


@router.get("/v1/customers/{customer_id}/consent", response_model=ConsentPublic)
def get_consent(principal: Reader, store: StoreDep, customer_id: CustomerIdPath,
                limit: int = Query(100, ge=1, le=1000)) -> Any:
    """The customer's consent per purpose (state, time, source) and its history."""
    record = store.customers.get(principal.tid, customer_id)
    purposes = {p: PurposePublic(state=getattr(record, f"consent_{p}"),
                                 at=getattr(record, f"consent_{p}_at"),
                                 source=getattr(record, f"consent_{p}_source"))
                for p in PURPOSES}
    return ConsentPublic(customer_id=customer_id, purposes=purposes,
                         history=store.consent.history(principal.tid, customer_id,
                                                       limit=limit))


class ErasurePublic(BaseModel):
    """What an erasure removed (rows by table), the ids replaced in model artifacts, and the
    audit entry naming the customer by the tenant's keyed hash of the id."""

    target: str
    removed: dict[str, int]
    artifacts: int
    audit_id: int | None


@router.delete("/v1/customers/{customer_id}", status_code=204, response_model=None,
               responses={200: {"model": ErasurePublic,
                                "description": "With `erase=true`: the erasure receipt."}})
def delete_customer(principal: Writer, actor: Actor, store: StoreDep, cache: CacheDep,
                    customer_id: CustomerIdPath,
                    erase_: bool = Query(False, alias="erase", description=(
                        "The admin form: answer 200 with the erasure receipt. Either form "
                        "erases everywhere, suppresses the id and writes an audit entry."))
                    ) -> Any:
    """Erase a customer everywhere (right to erasure): profile, events and feedback,
    quarantined rows, segments, need scores, lists, and the id in model artifacts. The id is
    suppressed (imports refuse it until lifted) and every worker stops serving it at once."""
    if erase_ and not has_scope(principal.scopes, "admin"):
        raise PermissionDeniedError("erase=true needs the 'admin' scope", needed="admin",
                                    scopes=list(principal.scopes))
    via = "DELETE ?erase=true" if erase_ else "DELETE"
    try:
        receipt = erase(store, principal.tid, customer_id, actor, via=via)
    finally:
        cache.touch(principal.tid)  # the served model forgets them on the next request
    if not erase_:
        return Response(status_code=204)
    return JSONResponse(ErasurePublic(target=receipt.target, removed=receipt.removed,
                                      artifacts=receipt.artifacts,
                                      audit_id=receipt.audit_id).model_dump())


@router.get("/v1/customers/{customer_id}/export", responses=error_responses(404))
def export_one(principal: Admin, actor: Actor, store: StoreDep,
               customer_id: CustomerIdPath) -> dict[str, Any]:
    """Everything held about the customer as one JSON document (GDPR Art. 15 and 20):
    profile, custom fields, consent, events, feedback, segments, need scores and current
    recommendations with reasons, and a manifest of the parts."""
    return export_customer(store, principal.tid, customer_id, actor)


@router.post("/v1/customers:batch", response_model=UpsertPublic)
def batch_customers(principal: Writer, store: StoreDep, cache: CacheDep,
                    body: CustomerBatch) -> Any:
    """Upsert many customers, all or nothing (422 names each bad row)."""
    rows = [_row(r.customer_id, r) for r in body.customers]
    result = store.customers.upsert(principal.tid, rows)
    cache.touch(principal.tid)
    return UpsertPublic(inserted=result.inserted, updated=result.updated)
