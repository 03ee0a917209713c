"""The tenant's own settings (how its incoming data is treated)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tailorcrm.api.deps import Admin, Reader, StoreDep
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.store.tenant_settings import (
    TenantSettings,
    load_tenant_settings,
    save_tenant_settings,
)

router = APIRouter(tags=["settings"], responses=error_responses(*AUTHENTICATED, 413))


@router.get("/v1/settings", response_model=TenantSettings)
def get_settings(principal: Reader, store: StoreDep) -> Any:
    """The tenant's settings (defaults where none were stored)."""
    return load_tenant_settings(store.configs, principal.tid)


@router.put("/v1/settings", response_model=TenantSettings)
def put_settings(principal: Admin, store: StoreDep, body: TenantSettings) -> Any:
    """Replace the tenant's settings (admin)."""
    save_tenant_settings(store.configs, principal.tid, body)
    return load_tenant_settings(store.configs, principal.tid)
