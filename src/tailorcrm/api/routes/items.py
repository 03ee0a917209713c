"""Items (products, services, content): upsert, read and delete one; upsert many."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.api.deps import Reader, StoreDep, Writer
from tailorcrm.api.params import ExternalId, ItemIdPath
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.api.routes.customers import MAX_BATCH, UpsertPublic
from tailorcrm.errors import NotFoundError

router = APIRouter(tags=["items"],
                   responses=error_responses(*AUTHENTICATED, 404, 413))



class ItemCreate(BaseModel):
    """An item's values; an upsert changes only what is given."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=20_000)
    categories: list[str] | None = None
    price: float | None = Field(None, allow_inf_nan=False)
    available: bool | None = None
    attributes: dict[str, Any] = Field(default_factory=dict,
                                       description="Custom field values by field name.")


class ItemBatchRow(ItemCreate):
    """One row of a batch upsert."""

    item_id: ExternalId


class ItemBatch(BaseModel):
    """Up to 10,000 items, written all or nothing."""

    model_config = ConfigDict(extra="forbid")

    items: list[ItemBatchRow] = Field(min_length=1, max_length=MAX_BATCH)


class ItemPublic(BaseModel):
    """A stored item."""

    item_id: str
    title: str
    description: str
    categories: list[str]
    price: float | None
    available: bool
    attributes: dict[str, Any]
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


def _row(item_id: str, body: ItemCreate) -> dict[str, Any]:
    return {"item_id": item_id, **body.model_dump(exclude_unset=True, exclude={"item_id"})}


@router.put("/v1/items/{item_id}", response_model=ItemPublic)
def put_item(principal: Writer, store: StoreDep, body: ItemCreate, item_id: ItemIdPath) -> Any:
    """Create or update one item."""
    store.items.upsert(principal.tid, [_row(item_id, body)])
    return store.items.get(principal.tid, item_id).model_dump()


@router.get("/v1/items/{item_id}", response_model=ItemPublic)
def get_item(principal: Reader, store: StoreDep, item_id: ItemIdPath) -> Any:
    """One item."""
    return store.items.get(principal.tid, item_id).model_dump()


@router.delete("/v1/items/{item_id}", status_code=204)
def delete_item(principal: Writer, store: StoreDep, item_id: ItemIdPath) -> Response:
    """Delete one item (its events stay: they are the customers' history)."""
    if not store.items.delete(principal.tid, item_id):
        raise NotFoundError(f"no item {item_id!r}", item_id=item_id)
    return Response(status_code=204)


@router.post("/v1/items:batch", response_model=UpsertPublic)
def batch_items(principal: Writer, store: StoreDep, body: ItemBatch) -> Any:
    """Upsert many items, all or nothing (422 names each bad row)."""
    result = store.items.upsert(principal.tid, [_row(r.item_id, r) for r in body.items])
    return UpsertPublic(inserted=result.inserted, updated=result.updated)
