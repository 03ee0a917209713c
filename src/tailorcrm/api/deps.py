"""Typed dependencies: the store, the caller's tenant from the API key, scope checks."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tailorcrm.api.throttle import AuthThrottle
from tailorcrm.errors import AuthenticationError, PermissionDeniedError
from tailorcrm.serving.cache import ModelCache
from tailorcrm.serving.jobs import JobRunner
from tailorcrm.store import Store
from tailorcrm.store.keys import has_scope

Scope = Literal["read", "write", "admin"]

AUTH_TTL_S = 2.0  # a verified key is trusted this long: revocation takes effect within it

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer tcrm_...`")


@dataclass(frozen=True)
class Principal:
    """Who calls: the key's tenant (slug and id) and its scopes."""

    tenant: str
    tid: int
    scopes: tuple[str, ...]


class KeyCache:
    """Recently verified keys, by SHA-256 of the secret, for ``AUTH_TTL_S`` seconds.

    Saves the two look-ups (key, tenant) that would otherwise precede every request.
    """

    def __init__(self, ttl: float = AUTH_TTL_S) -> None:
        self.ttl = ttl
        self._seen: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, secret: str) -> tuple[str, Principal | None]:
        """``(digest, principal)``; the principal is None when unknown or expired."""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        found = self._seen.get(digest)
        if found is None or found[0] < time.monotonic():
            return digest, None
        return digest, found[1]

    def put(self, digest: str, principal: Principal) -> None:
        """Remember a verified key."""
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[digest] = (time.monotonic() + self.ttl, principal)


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


def authenticate(request: Request, store: StoreDep,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                 ) -> Principal:
    """The caller of a request with ``Authorization: Bearer <key>``; 401 otherwise.

    Unknown, malformed and revoked keys get the same answer ("invalid API key": the reason is
    logged, not told); an address with too many failures in a minute gets 429 until the
    minute ends, before its key is even looked up (keys verified in the last seconds still
    pass: they come from the key cache).
    """
    throttle: AuthThrottle = request.app.state.auth_throttle
    client = request.client.host if request.client else "unknown"
    if credentials is None or credentials.scheme.lower() != "bearer":
        throttle.failed(client, "missing API key", None)
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
    keys: KeyCache = request.app.state.key_cache
    digest, principal = keys.get(credentials.credentials)
    if principal is None:
        throttle.check(client)
        try:
            tenant, scopes = store.keys.verify(credentials.credentials)
        except AuthenticationError as exc:
            parts = credentials.credentials.split("_", 2)
            key_id = parts[1][:32] if len(parts) == 3 else None
            throttle.failed(client, exc.message, key_id)
            raise AuthenticationError("invalid API key") from None
        principal = Principal(tenant=tenant, tid=store.tenants.id_of(tenant), scopes=scopes)
        keys.put(digest, principal)
    return principal


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
