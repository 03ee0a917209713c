"""Events: one or a list, idempotent by key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.api.deps import StoreDep, Writer
from tailorcrm.api.routes.customers import MAX_BATCH
from tailorcrm.errors import ValidationError

router = APIRouter(tags=["events"])


class EventCreate(BaseModel):
    """One interaction. Without ``idempotency_key`` the key is derived from its content."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    customer_id: str = Field(min_length=1, max_length=255)
    item_id: str | None = Field(None, min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=63, description="An event type of the catalog.")
    value: float | None = Field(None, allow_inf_nan=False)
    ts: dt.datetime | None = Field(None, description="When it happened (default: now).")
    attributes: dict[str, Any] = Field(default_factory=dict)


class EventsPublic(BaseModel):
    """Events stored now, and events already stored under the same key."""

    inserted: int
    duplicates: int


@router.post("/v1/events", response_model=EventsPublic)
def post_events(principal: Writer, store: StoreDep, request: Request,
                body: Annotated[EventCreate | list[EventCreate], Body()]) -> Any:
    """Store one event or a list of up to 10,000, all or nothing (422 names each bad row)."""
    events = body if isinstance(body, list) else [body]
    if len(events) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} events per request", count=len(events))
    now = dt.datetime.now(dt.UTC)
    rows = []
    for e in events:
        row = e.model_dump(exclude_none=True)
        row.setdefault("ts", now)
        attributes = row.pop("attributes", {})
        rows.append({**attributes, **row})
    inserted, duplicates = store.events.add(principal.tid, rows) if rows else (0, 0)
    request.app.state.metrics.events.inc(inserted)
    return EventsPublic(inserted=inserted, duplicates=duplicates)
