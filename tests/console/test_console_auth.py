"""Console sign-in, sessions, scopes, CSRF and tenant isolation, over a real SQLite file."""

from __future__ import annotations

import re

import pytest
from console_helpers import Console

from tailorcrm.console.mount import ROUTERS

PUBLIC = {"/console/login", "/console"}


def _console_routes() -> list[tuple[str, str]]:
    """Every console route (method, path with its parameters filled in)."""
    found = []
    for route in (r for router in ROUTERS for r in router.routes):
        methods = getattr(route, "methods", None)
        if not methods or not str(getattr(route, "path", "")).startswith("/console"):
            continue
        path = re.sub(r"\{[^}]+\}", "x1", route.path)
        for method in sorted(methods):
            if method != "HEAD" and path not in PUBLIC:
                found.append((method, path))
    return found


def test_every_page_and_fragment_needs_a_session(console: Console) -> None:
    routes = _console_routes()
    assert len(routes) >= 14
    for method, path in routes:
        page = console.client.request(method, path, follow_redirects=False)
        assert page.status_code in (303, 401, 403), (method, path, page.status_code)
        if method == "GET":
            assert page.status_code == 303 and "/console/login" in page.headers["location"]
        fragment = console.client.request(method, path, headers={"HX-Request": "true"},
                                          follow_redirects=False)
        assert fragment.status_code in (401, 403), (method, path)
        assert "demo" not in fragment.text


def test_sign_in_sets_a_strict_http_only_cookie(console: Console) -> None:
    answer = console.sign_in("read")
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "tcrm_console=" in cookie and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    page = console.client.get("/console/")
    assert page.status_code == 200 and 'id="tenant"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_a_wrong_key_gets_no_session(console: Console) -> None:
    answer = console.sign_in(secret="tcrm_deadbeef_nottherealsecret")
    assert answer.status_code == 401 and "invalid API key" in answer.text
    assert "tcrm_console=" not in answer.headers.get("set-cookie", "")
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_the_sign_in_form_needs_its_own_token(console: Console) -> None:
    answer = console.client.post("/console/login", data={"api_key": console.keys["admin"],
                                                         "csrf_token": "forged"},
                                 follow_redirects=False)
    assert answer.status_code == 403
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/v1/customers", "/console\\..\\x"])
def test_no_open_redirect_after_sign_in(console: Console, target: str) -> None:
    form = console.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    answer = console.client.post("/console/login", data={
        "api_key": console.keys["read"], "csrf_token": token.group(1), "next": target},
        follow_redirects=False)
    assert answer.headers["location"] == "/console/"


def test_sign_out_needs_csrf_and_ends_the_session(console: Console) -> None:
    console.sign_in("read")
    assert console.post("/console/logout", csrf=False).status_code == 403
    assert console.client.get("/console/").status_code == 200
    forged = console.post("/console/logout", csrf=False, data={"csrf_token": "x" * 43})
    assert forged.status_code == 403
    assert console.post("/console/logout").status_code == 303
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_a_post_from_another_site_is_refused(console: Console) -> None:
    console.sign_in("read")
    answer = console.post("/console/logout", headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert console.client.get("/console/").status_code == 200


def test_revoking_the_key_ends_its_sessions(console: Console) -> None:
    key_id, secret = console.store.keys.create(console.tid, ["read"], "short-lived")
    console.sign_in(secret=secret)
    assert console.client.get("/console/").status_code == 200
    console.store.keys.revoke(key_id)
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_a_session_shows_only_its_own_tenant(console: Console) -> None:
    console.sign_in(secret=console.keys["other"])
    page = console.client.get("/console/")
    assert page.status_code == 200
    assert re.search(r'id="tenant"[^>]*>other<', page.text)
    assert 'id="n-customers">0<' in page.text  # the other tenant is empty
