"""Events: store one or a list (idempotent by key); admins delete events by key or filter."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from tailorcrm.api.deps import Admin, CacheDep, StoreDep, Writer
from tailorcrm.api.params import ExternalId, OptionalExternalId
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.api.routes.customers import MAX_BATCH
from tailorcrm.errors import NotFoundError, ValidationError
from tailorcrm.schema.time_window import EARLIEST_EVENT_TIME, FUTURE_TOLERANCE_HOURS
from tailorcrm.store.events import BUILTIN

router = APIRouter(tags=["events"],
                   responses=error_responses(*AUTHENTICATED, 404, 413))

WINDOW = (f"Accepted from {EARLIEST_EVENT_TIME.date().isoformat()} to now + "
          f"{FUTURE_TOLERANCE_HOURS:g} h (the same window as imports).")


class EventCreate(BaseModel):
    """One interaction. Without ``idempotency_key`` the key is derived from its content."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    customer_id: ExternalId
    item_id: OptionalExternalId = None
    type: str = Field(min_length=1, max_length=63, description="An event type of the catalog.")
    value: float | None = Field(None, allow_inf_nan=False)
    timestamp: dt.datetime | None = Field(
        None, validation_alias=AliasChoices("timestamp", "ts"),
        description=f"When it happened (default: now), as mappings name it; `ts` is accepted "
                    f"as an alias. {WINDOW}")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Custom event fields by name; never a built-in field.",
        json_schema_extra={"propertyNames": {"not": {"enum": [*BUILTIN, "attributes"]}}})

    @field_validator("attributes")
    @classmethod
    def _no_builtin_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        smuggled = sorted(k for k in value if k in BUILTIN or k == "attributes")
        if smuggled:
            raise ValueError(f"attributes may not set built-in fields: {', '.join(smuggled)}")
        return value


class EventsPublic(BaseModel):
    """Events stored now, events already stored under the same key, and the customers and
    items the events named that were created for them."""

    inserted: int
    duplicates: int
    customers_created: int = 0
    items_created: int = 0


_CRITERIA = ("idempotency_keys", "customer_id", "item_id", "type", "before", "after")


class EventsDelete(BaseModel):
    """Which events to delete: every given criterion must match (at least one is needed)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": [k], "properties": {k: {"not": {"type": "null"}}}} for k in _CRITERIA]})

    idempotency_keys: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = \
        Field(None, max_length=MAX_BATCH)
    customer_id: OptionalExternalId = None
    item_id: OptionalExternalId = None
    type: str | None = Field(None, min_length=1, max_length=63)
    before: dt.datetime | None = Field(None, description="Only events before this time.")
    after: dt.datetime | None = Field(None, description="Only events after this time.")

    @model_validator(mode="after")
    def _some_criterion(self) -> EventsDelete:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("name at least one criterion of the events to delete")
        return self


class DeletedPublic(BaseModel):
    """How many events were deleted."""

    deleted: int


@router.post("/v1/events", response_model=EventsPublic)
def post_events(principal: Writer, store: StoreDep, cache: CacheDep, request: Request,
                body: Annotated[EventCreate | Annotated[list[EventCreate],
                                                        Field(max_length=MAX_BATCH)], Body()],
                ) -> Any:
    """Store one event or a list of up to 10,000, all or nothing (422 names each bad row)."""
    events = body if isinstance(body, list) else [body]
    if len(events) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} events per request", count=len(events))
    now = dt.datetime.now(dt.UTC)
    rows = []
    for e in events:
        row = e.model_dump(exclude_none=True)
        row.setdefault("timestamp", now)
        # custom values go in their own mapping: they can never land on a built-in column
        rows.append(row)
    added = store.events.add_counted(principal.tid, rows)
    cache.touch(principal.tid)  # this worker's next list for them folds the events in
    request.app.state.metrics.events.inc(added.inserted)
    return EventsPublic(inserted=added.inserted, duplicates=added.duplicates,
                        customers_created=added.customers_created,
                        items_created=added.items_created)


@router.delete("/v1/events/{idempotency_key}", status_code=200, response_model=DeletedPublic)
def delete_event(principal: Admin, store: StoreDep, cache: CacheDep,
                 idempotency_key: str = Path(min_length=1, max_length=255)) -> Any:
    """Delete one event by its idempotency key (admin)."""
    deleted = store.events.delete_matching(principal.tid, keys=[idempotency_key])
    cache.touch(principal.tid)
    if not deleted:
        raise NotFoundError(f"no event {idempotency_key!r}", idempotency_key=idempotency_key)
    return DeletedPublic(deleted=deleted)


@router.post("/v1/events:delete", response_model=DeletedPublic)
def delete_events(principal: Admin, store: StoreDep, cache: CacheDep,
                  body: EventsDelete) -> Any:
    """Delete the events matching every given criterion (admin); 0 when none match."""
    deleted = store.events.delete_matching(
        principal.tid, keys=body.idempotency_keys, customer_id=body.customer_id,
        item_id=body.item_id, type_=body.type, before=body.before, after=body.after)
    cache.touch(principal.tid)
    return DeletedPublic(deleted=deleted)
