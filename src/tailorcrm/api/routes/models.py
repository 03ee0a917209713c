"""Trained model versions of the tenant, with the validation scores of their choice."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tailorcrm.api.deps import Reader, StoreDep
from tailorcrm.api.responses import AUTHENTICATED, error_responses

router = APIRouter(tags=["models"], responses=error_responses(*AUTHENTICATED))


class ModelPublic(BaseModel):
    """One model version: what it is, whether it serves, and how it was chosen.

    ``selection`` (recommenders): ``chosen``, ``personalized``, ``repeats``, ``scores``
    (validation nDCG@10 per candidate), ``popularity_ndcg``, ``margin_over_popularity``,
    ``carve`` (how the validation set was cut, and its sizes), ``note``.
    """

    name: str
    version: str
    kind: str
    active: bool
    created_at: dt.datetime | None
    selection: dict[str, Any] = Field(default_factory=dict)
    stats: dict[str, Any] = Field(default_factory=dict)


class ModelsPublic(BaseModel):
    """The tenant's model versions, newest first per name."""

    models: list[ModelPublic]


@router.get("/v1/models", response_model=ModelsPublic)
def list_models(principal: Reader, store: StoreDep,
                name: str | None = Query(None, max_length=100,
                                         pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")) -> Any:
    """Every trained version (``name``: one model, e.g. ``recommender``), with its
    validation scores, the chosen candidate and its margin over popularity."""
    records = store.models.list(principal.tid, name)
    return ModelsPublic(models=[ModelPublic(
        name=r.name, version=r.version, kind=r.kind, active=r.active, created_at=r.created_at,
        selection=r.metrics.get("selection", {}),
        stats={k: v for k, v in r.metrics.items() if k != "selection"}) for r in records])
