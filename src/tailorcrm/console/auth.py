"""Console sign-in: sessions opened with an API key, scope checks, and CSRF on every form.

A session is bound to the key it was opened with (``store/console_sessions.py``): revoking the
key ends it. Every state-changing request (``POST``) must carry the session's CSRF token, in the
form field ``csrf_token`` or the ``X-CSRF-Token`` header (htmx sends the header), and, when the
browser sends one, an ``Origin`` of this server. The cookie is HttpOnly and SameSite=Strict, and
Secure when the request came over HTTPS.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from tailorcrm.api.deps import Principal, Scope, key_id_of
from tailorcrm.errors import AuthenticationError, PermissionDeniedError
from tailorcrm.store import Store
from tailorcrm.store.keys import has_scope

COOKIE = "tcrm_console"
SESSION_TTL = dt.timedelta(hours=8)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
PREFIX = "/console"


class NotSignedInError(AuthenticationError):
    """No valid session: a page answers with a redirect to the sign-in form."""

    code = "not_signed_in"
    exit_code = 14


@dataclass(frozen=True)
class ConsoleUser:
    """Who is signed in: the key's tenant and scopes, and the session's CSRF token."""

    principal: Principal
    key_id: str
    csrf: str

    @property
    def tid(self) -> int:
        """The tenant's id."""
        return self.principal.tid

    @property
    def tenant(self) -> str:
        """The tenant's slug."""
        return self.principal.tenant

    def can(self, scope: Scope) -> bool:
        """Whether the key allows ``scope`` (admin ⊇ write ⊇ read)."""
        return has_scope(self.principal.scopes, scope)


def open_session(store: Store, secret: str) -> tuple[str, ConsoleUser]:
    """Verify an API key and open a session for it: ``(cookie token, user)``.

    AuthenticationError for an unknown, malformed or revoked key (one message for all)."""
    try:
        tenant, scopes = store.keys.verify(secret)
    except AuthenticationError:
        raise AuthenticationError("invalid API key") from None
    key_id = key_id_of(secret) or ""
    tid = store.tenants.id_of(tenant)
    token, csrf = store.sessions.open(tid, key_id, scopes, ttl=SESSION_TTL)
    return token, ConsoleUser(Principal(tenant=tenant, tid=tid, scopes=scopes), key_id, csrf)


def _read_session(store: Store, token: str) -> ConsoleUser | None:
    found = store.sessions.get(token)
    if found is None:
        return None
    return ConsoleUser(Principal(tenant=found.tenant, tid=found.tid, scopes=found.scopes),
                       found.key_id, found.csrf)


async def current_user(request: Request) -> ConsoleUser:
    """The signed-in user of a console request; NotSignedInError otherwise."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise NotSignedInError("sign in first")
    store: Store = request.app.state.store
    user = await run_in_threadpool(_read_session, store, token)
    if user is None:
        raise NotSignedInError("the session ended: sign in again")
    request.state.console_user = user
    return user


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # no Origin header (older browsers): the CSRF token alone decides
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


async def check_csrf(request: Request, user: ConsoleUser) -> None:
    """PermissionDeniedError unless the request carries the session's CSRF token (and, when
    the browser sent an Origin, comes from this server)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, user.csrf):
        raise PermissionDeniedError("missing or wrong CSRF token: reload the page and retry")
    if not _same_origin(request):
        raise PermissionDeniedError("the request came from another site")


def requires(scope: Scope, *, post: bool = False
             ) -> Callable[[Request, ConsoleUser], Awaitable[ConsoleUser]]:
    """A dependency: the signed-in user when their key has ``scope`` (403 otherwise); with
    ``post`` the CSRF token is checked too."""

    async def dependency(request: Request,
                         user: Annotated[ConsoleUser, Depends(current_user)]) -> ConsoleUser:
        if post:
            await check_csrf(request, user)
        if not user.can(scope):
            raise PermissionDeniedError(f"this API key lacks the {scope!r} scope",
                                        needed=scope, scopes=list(user.principal.scopes))
        return user

    return dependency


Viewer = Annotated[ConsoleUser, Depends(requires("read"))]
ReadPost = Annotated[ConsoleUser, Depends(requires("read", post=True))]
WritePost = Annotated[ConsoleUser, Depends(requires("write", post=True))]
AdminPage = Annotated[ConsoleUser, Depends(requires("admin"))]
AdminPost = Annotated[ConsoleUser, Depends(requires("admin", post=True))]
