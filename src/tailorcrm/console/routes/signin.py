"""Signing in with an API key and out again.

The sign-in form itself is protected against login CSRF with a double-submit token: a random
value in a short-lived cookie that the form must post back.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tailorcrm.api.deps import key_id_of
from tailorcrm.api.throttle import AuthThrottle
from tailorcrm.console.auth import COOKIE, PREFIX, SESSION_TTL, ReadPost, open_session
from tailorcrm.console.render import page, redirect
from tailorcrm.errors import AuthenticationError, RateLimitedError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LOGIN_COOKIE = "tcrm_console_login"


def _safe_next(target: str) -> str:
    """Only a path inside the console (no open redirect to another site)."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def _login_form(request: Request, *, error: str = "", next_: str = "", status: int = 200
                ) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", None, status=status, error=error,
                    next=_safe_next(next_), login_csrf=token)
    response.set_cookie(LOGIN_COOKIE, token, max_age=600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=PREFIX)
    return response


@router.get("/login")
async def login_form(request: Request, next: str = "") -> Response:
    """The sign-in form."""
    return _login_form(request, next_=next)


@router.post("/login")
async def login(request: Request, api_key: str = Form(max_length=200),
                csrf_token: str = Form("", max_length=200),
                next: str = Form("", max_length=2000)) -> Response:
    """Open a session for a valid API key and go to ``next`` (a console path)."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_form(request, error="the form expired: try again", next_=next,
                           status=403)
    throttle: AuthThrottle = request.app.state.auth_throttle
    client = request.client.host if request.client else "unknown"
    try:
        throttle.check(client)
    except RateLimitedError as exc:
        return _login_form(request, error=exc.message, next_=next, status=429)
    try:
        token, _ = await run_in_threadpool(open_session, request.app.state.store, api_key)
    except AuthenticationError as exc:
        throttle.failed(client, "console sign-in: " + exc.message, key_id_of(api_key))
        return _login_form(request, error="invalid API key", next_=next, status=401)
    response = redirect(_safe_next(next))
    response.set_cookie(COOKIE, token, max_age=int(SESSION_TTL.total_seconds()), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path=PREFIX)
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, user: ReadPost) -> Response:
    """End the session here and in every worker."""
    await run_in_threadpool(request.app.state.store.sessions.close,
                            request.cookies.get(COOKIE, ""))
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
