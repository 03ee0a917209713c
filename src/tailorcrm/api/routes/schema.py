"""Custom fields of customers, items and events: list, add, remove."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.api.deps import Admin, Reader, StoreDep
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.errors import ValidationError
from tailorcrm.schema.fields import Entity, FieldSpec, FieldType

router = APIRouter(tags=["schema"],
                   responses=error_responses(*AUTHENTICATED, 404, 409, 413))


class FieldCreate(BaseModel):
    """A new custom field (see FieldSpec); stored values are checked against it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    type: FieldType
    required: bool = False
    default: Any = None
    enum_values: list[str] = Field(default_factory=list)
    pii: bool = False
    feature: bool = False
    indexed: bool = False
    description: str = Field("", max_length=2000)


class FieldPublic(FieldCreate):
    """A custom field of one entity."""

    entity: Entity


@router.get("/v1/schema/{entity}/fields", response_model=list[FieldPublic])
def list_fields(principal: Reader, store: StoreDep, entity: Entity) -> Any:
    """The entity's custom fields."""
    return [f.model_dump(mode="json") for f in store.fields.list(principal.tid, entity)]


@router.post("/v1/schema/{entity}/fields", response_model=FieldPublic, status_code=201)
def add_field(principal: Admin, store: StoreDep, entity: Entity, body: FieldCreate) -> Any:
    """Add a custom field; 409 when it exists or stored values would break."""
    try:
        spec = FieldSpec(entity=entity, **body.model_dump())
    except TypeError as exc:  # coerce_value of a default of the wrong JSON type (e.g. a list)
        raise ValidationError(f"default does not fit type {body.type.value!r}: {exc}",
                              field="default") from exc
    store.fields.add(principal.tid, spec)
    return spec.model_dump(mode="json")


@router.delete("/v1/schema/{entity}/fields", status_code=204)
def remove_field(principal: Admin, store: StoreDep, entity: Entity,
                 name: str = Query(min_length=1, max_length=63),
                 purge: bool = Query(False, description="Also delete the stored values.")
                 ) -> Response:
    """Remove a custom field from the catalog (values stay unless ``purge``)."""
    store.fields.remove(principal.tid, entity, name, purge=purge)
    return Response(status_code=204)
