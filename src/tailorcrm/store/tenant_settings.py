"""Per-tenant settings that are data (stored as a config document), not process settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tailorcrm.errors import NotFoundError
from tailorcrm.store.configs import ConfigRepository

SETTINGS_KIND = "tenant"
SETTINGS_NAME = "settings"


class TenantSettings(BaseModel):
    """How tailorcrm treats one tenant's incoming data."""

    model_config = ConfigDict(extra="forbid")

    unknown_references: Literal["create", "reject"] = Field(
        "create", description="Events naming a customer or item the tenant does not have yet: "
                              "'create' the record (with its fields' defaults, as Recombee "
                              "does), so it gets cold-start results at once, or 'reject' the "
                              "event with a reason.")
    retention_days: int | None = Field(
        None, ge=1, le=36_500,
        description="Delete events older than this many days (the training job does it "
                    "first; so does `tailorcrm retention run`), with an audit entry. None "
                    "(the default) keeps every event.")
    pii_features_allowed: tuple[str, ...] = Field(
        (), description="Custom fields flagged `pii` that models may read as features (when "
                        "also flagged `feature`); every other pii field is left out of them.")

    @field_validator("pii_features_allowed")
    @classmethod
    def _distinct(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(names)))

    def retention_policy(self) -> str:
        """What retention does for this tenant, in words."""
        if self.retention_days is None:
            return "keep everything: no retention period is set (retention_days is null)"
        return f"events older than {self.retention_days} days are deleted"


def load_tenant_settings(configs: ConfigRepository, tid: int) -> TenantSettings:
    """The tenant's settings (the defaults when none were stored)."""
    try:
        return TenantSettings.model_validate(configs.get(tid, SETTINGS_KIND, SETTINGS_NAME))
    except NotFoundError:
        return TenantSettings()


def save_tenant_settings(configs: ConfigRepository, tid: int, settings: TenantSettings) -> int:
    """Store the tenant's settings as a new version; returns it."""
    return configs.put(tid, SETTINGS_KIND, SETTINGS_NAME, settings.model_dump(mode="json"))
