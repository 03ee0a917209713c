"""Typed records the repositories return (what a row looks like outside the database)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Consent = Literal["granted", "denied", "unknown"]


class CustomerRecord(BaseModel):
    """One stored customer."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    consent_personalization: Consent = "unknown"
    consent_personalization_at: dt.datetime | None = None
    consent_marketing: Consent = "unknown"
    consent_marketing_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class ItemRecord(BaseModel):
    """One stored item (product, service or content)."""

    model_config = ConfigDict(extra="forbid")

    item_id: str
    title: str = ""
    description: str = ""
    categories: list[str] = Field(default_factory=list)
    price: float | None = None
    available: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class EventRecord(BaseModel):
    """One stored interaction."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str
    customer_id: str
    item_id: str | None = None
    type: str
    value: float | None = None
    ts: dt.datetime
    attributes: dict[str, Any] = Field(default_factory=dict)


class UpsertResult(BaseModel):
    """How many rows an upsert inserted and how many it updated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inserted: int = 0
    updated: int = 0

    @property
    def total(self) -> int:
        """Rows written."""
        return self.inserted + self.updated
