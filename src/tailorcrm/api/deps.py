"""Typed dependencies: the store, the caller's tenant from the API key, scope checks."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tailorcrm.api.throttle import AuthThrottle
from tailorcrm.errors import AuthenticationError, PermissionDeniedError
from tailorcrm.serving.cache import ModelCache
from tailorcrm.serving.jobs import JobRunner
from tailorcrm.store import Store
from tailorcrm.store.keys import has_scope

Scope = Literal["read", "write", "admin"]

AUTH_TTL_S = 2.0
"""How long a worker trusts a key it verified, in seconds. A key revoked through a worker
(``DELETE /v1/keys/{key_id}``) fails there at once (:meth:`KeyCache.evict`); revoked anywhere
else (another worker, ``tailorcrm keys revoke``) it fails in every worker within this bound."""

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer tcrm_...`")
MAX_CACHED_KEYS = 10_000


@dataclass(frozen=True)
class Principal:
    """Who calls: the key's tenant (slug and id) and its scopes."""

    tenant: str
    tid: int
    scopes: tuple[str, ...]


def key_id_of(secret: str) -> str | None:
    """The public key id inside a secret (``tcrm_<key_id>_<token>``); None when malformed."""
    parts = secret.strip().split("_", 2)
    return parts[1][:32] if len(parts) == 3 else None


class KeyCache:
    """Recently verified keys, by SHA-256 of the secret, for ``ttl`` seconds (``AUTH_TTL_S``).

    Saves the two look-ups (key, tenant) that would otherwise precede every request. A key this
    process revoked is evicted and never cached again, so it fails here at once; a key revoked
    elsewhere fails here once its entry expires, at most ``ttl`` seconds after the revocation.
    """

    def __init__(self, ttl: float = AUTH_TTL_S) -> None:
        self.ttl = ttl
        self._seen: dict[str, tuple[float, str | None, Principal]] = {}
        self._digests: dict[str, str] = {}  # key id -> digest of its cached secret
        self._revoked: set[str] = set()  # key ids revoked through this process
        self._lock = threading.Lock()

    def get(self, secret: str) -> tuple[str, Principal | None]:
        """``(digest, principal)``; the principal is None when unknown or expired."""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        found = self._seen.get(digest)
        if found is None or found[0] < time.monotonic():
            return digest, None
        return digest, found[2]

    def put(self, digest: str, principal: Principal, key_id: str | None = None) -> None:
        """Remember a verified key (not one revoked through this process meanwhile)."""
        with self._lock:
            if key_id is not None and key_id in self._revoked:
                return
            if len(self._seen) > MAX_CACHED_KEYS:
                self._seen.clear()
                self._digests.clear()
            self._seen[digest] = (time.monotonic() + self.ttl, key_id, principal)
            if key_id is not None:
                self._digests[key_id] = digest

    def evict(self, key_id: str) -> None:
        """Forget key ``key_id`` at once and never cache it again (it was revoked)."""
        with self._lock:
            digest = self._digests.pop(key_id, None)
            if digest is not None:
                self._seen.pop(digest, None)
            if len(self._revoked) > MAX_CACHED_KEYS:
                self._revoked.clear()  # the oldest revocations are long past every TTL
            self._revoked.add(key_id)


async def get_store(request: Request) -> Store:
    """The store opened by the app factory."""
    store: Store = request.app.state.store
    return store


async def get_cache(request: Request) -> ModelCache:
    """The per-tenant model cache."""
    cache: ModelCache = request.app.state.cache
    return cache


async def get_jobs(request: Request) -> JobRunner:
    """The background job runner."""
    jobs: JobRunner = request.app.state.jobs
    return jobs


async def get_key_cache(request: Request) -> KeyCache:
    """The cache of verified API keys."""
    keys: KeyCache = request.app.state.key_cache
    return keys


StoreDep = Annotated[Store, Depends(get_store)]
CacheDep = Annotated[ModelCache, Depends(get_cache)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]
KeyCacheDep = Annotated[KeyCache, Depends(get_key_cache)]


async def authenticate(request: Request, store: StoreDep,
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
        try:  # a store read: off the event loop
            principal = await run_in_threadpool(_verify, store, credentials.credentials)
        except AuthenticationError as exc:
            throttle.failed(client, exc.message, key_id_of(credentials.credentials))
            raise AuthenticationError("invalid API key") from None
        keys.put(digest, principal, key_id_of(credentials.credentials))
    return principal


def _verify(store: Store, secret: str) -> Principal:
    """The principal of a key the store verifies (AuthenticationError otherwise)."""
    tenant, scopes = store.keys.verify(secret)
    return Principal(tenant=tenant, tid=store.tenants.id_of(tenant), scopes=scopes)


def require_scope(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits keys with ``scope`` (admin ⊇ write ⊇ read); 403 otherwise.

    The dependencies of a request are coroutines: each sync dependency would cost a thread
    hop per request, which is most of a served list's time."""

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not has_scope(principal.scopes, scope):
            raise PermissionDeniedError(f"this API key lacks the {scope!r} scope",
                                        needed=scope, scopes=list(principal.scopes))
        return principal

    return check


Reader = Annotated[Principal, Depends(require_scope("read"))]
Writer = Annotated[Principal, Depends(require_scope("write"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
