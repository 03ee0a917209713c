"""The tenant's own settings: how its incoming data is treated, retention, pii features.

``GET`` also says what retention does (``retention``: "keep everything" by default); every
``PUT`` appends ``settings.save`` (the names of the settings changed) to the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from tailorcrm.api.deps import Admin, Reader, StoreDep
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.api.routes.privacy import Actor
from tailorcrm.privacy.admin_audit import audit_settings
from tailorcrm.store.tenant_settings import (
    TenantSettings,
    load_tenant_settings,
    save_tenant_settings,
)

router = APIRouter(tags=["settings"], responses=error_responses(*AUTHENTICATED, 413))


class SettingsPublic(TenantSettings):
    """The tenant's settings, and what its retention setting does, in words."""

    retention: str = Field(description="What retention does: 'keep everything' unless "
                                       "`retention_days` is set.")


class SettingsBody(TenantSettings):
    """The settings to store; a ``retention`` sent back from a GET is ignored (read-only)."""

    retention: str | None = Field(None, description="Ignored: what GET says retention does.")

    def settings(self) -> TenantSettings:
        """The settings without the read-only field."""
        return TenantSettings(**self.model_dump(exclude={"retention"}))


def _public(settings: TenantSettings) -> SettingsPublic:
    return SettingsPublic(**settings.model_dump(), retention=settings.retention_policy())


@router.get("/v1/settings", response_model=SettingsPublic)
def get_settings(principal: Reader, store: StoreDep) -> Any:
    """The tenant's settings (defaults where none were stored)."""
    return _public(load_tenant_settings(store.configs, principal.tid))


@router.put("/v1/settings", response_model=SettingsPublic)
def put_settings(principal: Admin, actor: Actor, store: StoreDep, body: SettingsBody) -> Any:
    """Replace the tenant's settings (admin; audited)."""
    before = load_tenant_settings(store.configs, principal.tid).model_dump()
    settings = body.settings()
    version = save_tenant_settings(store.configs, principal.tid, settings)
    changed = [k for k, v in settings.model_dump().items() if before.get(k) != v]
    audit_settings(store, principal.tid, actor, changed, version)
    return _public(load_tenant_settings(store.configs, principal.tid))
