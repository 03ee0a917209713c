"""Typed dependencies: the store, the caller's tenant from the API key, scope checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tailorcrm.errors import AuthenticationError, PermissionDeniedError
from tailorcrm.serving.cache import ModelCache
from tailorcrm.serving.jobs import JobRunner
from tailorcrm.store import Store
from tailorcrm.store.keys import has_scope

Scope = Literal["read", "write", "admin"]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer tcrm_...`")


@dataclass(frozen=True)
class Principal:
    """Who calls: the key's tenant (slug and id) and its scopes."""

    tenant: str
    tid: int
    scopes: tuple[str, ...]


def get_store(request: Request) -> Store:
    """The store opened by the app factory."""
    store: Store = request.app.state.store
    return store


def get_cache(request: Request) -> ModelCache:
    """The per-tenant model cache."""
    cache: ModelCache = request.app.state.cache
    return cache


def get_jobs(request: Request) -> JobRunner:
    """The background job runner."""
    jobs: JobRunner = request.app.state.jobs
    return jobs


StoreDep = Annotated[Store, Depends(get_store)]
CacheDep = Annotated[ModelCache, Depends(get_cache)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]


def authenticate(store: StoreDep,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                 ) -> Principal:
    """The caller of a request with ``Authorization: Bearer <key>``; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
    tenant, scopes = store.keys.verify(credentials.credentials)
    return Principal(tenant=tenant, tid=store.tenants.id_of(tenant), scopes=scopes)


def require_scope(scope: Scope) -> Callable[[Principal], Principal]:
    """A dependency that admits keys with ``scope`` (admin ⊇ write ⊇ read); 403 otherwise."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not has_scope(principal.scopes, scope):
            raise PermissionDeniedError(f"this API key lacks the {scope!r} scope",
                                        needed=scope, scopes=list(principal.scopes))
        return principal

    return check


Reader = Annotated[Principal, Depends(require_scope("read"))]
Writer = Annotated[Principal, Depends(require_scope("write"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
