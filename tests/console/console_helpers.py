"""Helpers of the console tests: a signed-in client, a live server, a headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tailorcrm.demo.config import DemoConfig
from tailorcrm.store import Store

SMALL_DEMO = DemoConfig(seed=7, n_customers=300, n_items=60)
CHROMIUM = os.environ.get("TAILORCRM_CHROMIUM") or shutil.which("chromium") or shutil.which(
    "chromium-browser") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("TAILORCRM_SCREENSHOTS", "test-artifacts/screenshots"))
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage"]

_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class Console:
    """A test client signed in (or not) to the console."""

    client: TestClient
    store: Store
    tid: int
    keys: dict[str, str]

    def sign_in(self, scope: str = "admin", *, secret: str | None = None) -> httpx.Response:
        """Sign in with the key of ``scope`` (or ``secret``); the session cookie stays."""
        form = self.client.get("/console/login")
        token = _LOGIN_CSRF.search(form.text)
        assert token is not None, form.text
        return self.client.post("/console/login", data={
            "api_key": secret if secret is not None else self.keys[scope],
            "csrf_token": token.group(1), "next": "/console/"}, follow_redirects=False)

    def csrf(self, path: str = "/console/") -> str:
        """The session's CSRF token, read off a page."""
        found = _META_CSRF.search(self.client.get(path).text)
        assert found is not None, "not signed in"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, *,
             csrf: bool = True, **kwargs: Any) -> httpx.Response:
        """A form post with the session's CSRF token (unless ``csrf`` is False)."""
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.csrf()
        return self.client.post(path, data=body, follow_redirects=False, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` over real HTTP on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the console server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def browser_required() -> bool:
    """CI sets TAILORCRM_REQUIRE_BROWSER=1: a missing Chromium fails the tests, not skips."""
    return os.environ.get("TAILORCRM_REQUIRE_BROWSER") == "1"
