"""Privacy and audit: batch erasure, lifting a suppression, the audit log (admin keys only).

One customer's erasure and export live with the customer routes
(``DELETE /v1/customers/{id}?erase=true``, ``GET /v1/customers/{id}/export``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.api.deps import Admin, CacheDep, StoreDep, key_id_of
from tailorcrm.api.params import ExternalId
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.privacy import erasure, suppression
from tailorcrm.privacy.audit import key_actor, list_audit
from tailorcrm.store.audit import MAX_LIST

router = APIRouter(tags=["privacy"], responses=error_responses(*AUTHENTICATED))

MAX_ERASE_BATCH = 1000


def request_actor(request: Request) -> str:
    """The audit actor of a request: ``key:<key id>`` of its bearer key."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    return key_actor(key_id_of(secret) if scheme.lower() == "bearer" else None)


Actor = Annotated[str, Depends(request_actor)]


class ErasureBatch(BaseModel):
    """Customer ids to erase (at most 1,000 per call; a file of ids: ``tailorcrm privacy
    erase --file``)."""

    model_config = ConfigDict(extra="forbid")

    customer_ids: list[ExternalId] = Field(min_length=1, max_length=MAX_ERASE_BATCH)


class ErasureBatchPublic(BaseModel):
    """How many ids were erased, how many the store did not hold, and the audit entries."""

    erased: int
    not_found: int
    audit_ids: list[int]


class SuppressionLift(BaseModel):
    """The erased id to accept again."""

    model_config = ConfigDict(extra="forbid")

    customer_id: ExternalId


class LiftPublic(BaseModel):
    """The suppression was lifted; the audit entry recording it."""

    lifted: bool
    audit_id: int


class AuditEntryPublic(BaseModel):
    """One audit entry (a customer is named by the tenant's keyed hash of the id)."""

    id: int
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]
    created_at: dt.datetime


class AuditPage(BaseModel):
    """Audit entries, newest first; ``next_before_id`` pages on (None: no more)."""

    entries: list[AuditEntryPublic]
    next_before_id: int | None


@router.post("/v1/privacy/erasures", response_model=ErasureBatchPublic)
def erase_batch(principal: Admin, actor: Actor, store: StoreDep, cache: CacheDep,
                body: ErasureBatch) -> Any:
    """Erase many customers everywhere (rows, artifacts; suppressed and audited one by one);
    ids the store does not hold are counted, not errors."""
    done = erasure.erase_many(store, principal.tid, body.customer_ids, actor, via="api")
    cache.touch(principal.tid)
    return ErasureBatchPublic(erased=done.erased, not_found=done.not_found,
                              audit_ids=[r.audit_id for r in done.receipts
                                         if r.audit_id is not None])


@router.post("/v1/privacy/suppressions:lift", response_model=LiftPublic,
             responses=error_responses(404))
def lift_suppression(principal: Admin, actor: Actor, store: StoreDep,
                     body: SuppressionLift) -> Any:
    """Accept an erased id again in imports, upserts and events (audited); 404 when the id
    is not suppressed."""
    audit_id = suppression.lift(store, principal.tid, body.customer_id, actor)
    return LiftPublic(lifted=True, audit_id=audit_id)


@router.get("/v1/audit", response_model=AuditPage)
def get_audit(principal: Admin, store: StoreDep,
              action: Annotated[str | None, Query(max_length=64, description=(
                  "Only this action, or a prefix ending in '.' (e.g. 'privacy.').")
              )] = None,
              before_id: Annotated[int | None, Query(ge=1, description=(
                  "Entries older than this id (the previous page's next_before_id).")
              )] = None,
              limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100) -> Any:
    """The tenant's audit log, newest first: every admin and privacy action and every key
    creation or revocation (who: key id, what, when)."""
    entries = list_audit(store, principal.tid, action=action, before_id=before_id,
                         limit=limit)
    more = len(entries) == limit and entries[-1].id > 1
    return AuditPage(entries=[AuditEntryPublic(**e.model_dump()) for e in entries],
                     next_before_id=entries[-1].id if more else None)
