"""Per-tenant customization documents: strategies, rule sets and action catalogs, versioned.

Every save appends ``config.save`` (kind, name, version) to the tenant's audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from tailorcrm.api.deps import Admin, CacheDep, Reader, StoreDep
from tailorcrm.api.responses import AUTHENTICATED, error_responses
from tailorcrm.api.routes.privacy import Actor
from tailorcrm.customize.actions import load_catalog, save_catalog
from tailorcrm.customize.configs import ACTIONS_KIND, RULES_KIND, STRATEGY_KIND
from tailorcrm.customize.rules import load_ruleset, save_ruleset
from tailorcrm.customize.strategies import load_strategy, save_strategy
from tailorcrm.errors import ValidationError
from tailorcrm.privacy.admin_audit import audit_config

router = APIRouter(tags=["customization"],
                   responses=error_responses(*AUTHENTICATED, 404, 409, 413))

Name = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class ConfigPublic(BaseModel):
    """One stored document: its kind, name, newest version and body."""

    kind: str
    name: str
    version: int
    body: dict[str, Any]


def _public(store: Any, tid: int, kind: str, name: str, body: dict[str, Any]) -> ConfigPublic:
    versions = store.configs.versions(tid, kind, name)
    return ConfigPublic(kind=kind, name=name, version=versions[-1] if versions else 0, body=body)


@router.get("/v1/strategies/{name}", response_model=ConfigPublic)
def get_strategy(principal: Reader, store: StoreDep, name: str = Name) -> Any:
    """A stored strategy (newest version)."""
    body = load_strategy(store.configs, principal.tid, name).model_dump(mode="json")
    return _public(store, principal.tid, STRATEGY_KIND, name, body)


@router.put("/v1/strategies/{name}", response_model=ConfigPublic)
def put_strategy(principal: Admin, actor: Actor, store: StoreDep, cache: CacheDep,
                 body: dict[str, Any],
                 name: str = Name) -> Any:
    """Check and store a strategy as its next version (its lists go stale)."""
    if body.setdefault("name", name) != name:
        raise ValidationError("the body's name differs from the path's", name=body.get("name"))
    version = save_strategy(store.configs, principal.tid, body)
    audit_config(store, principal.tid, actor, STRATEGY_KIND, name, version)
    cache.touch(principal.tid)  # this worker serves the new version from the next request
    saved = load_strategy(store.configs, principal.tid, name, version).model_dump(mode="json")
    return ConfigPublic(kind=STRATEGY_KIND, name=name, version=version, body=saved)


@router.get("/v1/rules/{name}", response_model=ConfigPublic)
def get_rules(principal: Reader, store: StoreDep, name: str = Name) -> Any:
    """A stored rule set (newest version)."""
    body = load_ruleset(store.configs, principal.tid, name).model_dump(mode="json")
    return _public(store, principal.tid, RULES_KIND, name, body)


@router.put("/v1/rules/{name}", response_model=ConfigPublic)
def put_rules(principal: Admin, actor: Actor, store: StoreDep, cache: CacheDep,
                 body: dict[str, Any],
              name: str = Name) -> Any:
    """Validate every expression and store the rule set as its next version."""
    version = save_ruleset(store.configs, principal.tid, name, body)
    audit_config(store, principal.tid, actor, RULES_KIND, name, version)
    cache.touch(principal.tid)
    saved = load_ruleset(store.configs, principal.tid, name, version).model_dump(mode="json")
    return ConfigPublic(kind=RULES_KIND, name=name, version=version, body=saved)


@router.get("/v1/actions/{name}", response_model=ConfigPublic)
def get_actions(principal: Reader, store: StoreDep, name: str = Name) -> Any:
    """A stored next-best-action catalog (newest version)."""
    body = load_catalog(store.configs, principal.tid, name).model_dump(mode="json")
    return _public(store, principal.tid, ACTIONS_KIND, name, body)


@router.put("/v1/actions/{name}", response_model=ConfigPublic)
def put_actions(principal: Admin, actor: Actor, store: StoreDep, cache: CacheDep,
                body: dict[str, Any], name: str = Name) -> Any:
    """Validate every expression and store the catalog as its next version."""
    version = save_catalog(store.configs, principal.tid, body, name)
    cache.touch(principal.tid)  # this worker serves the new catalog from the next request
    audit_config(store, principal.tid, actor, ACTIONS_KIND, name, version)
    saved = load_catalog(store.configs, principal.tid, name, version).model_dump(mode="json")
    return ConfigPublic(kind=ACTIONS_KIND, name=name, version=version, body=saved)
