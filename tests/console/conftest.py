"""Fixtures of the console tests: the small demo tenant trained on a real database, a signed-in
client, and a real headless Chromium against a real HTTP server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from console_helpers import (
    CHROMIUM,
    LAUNCH_ARGS,
    SMALL_DEMO,
    Console,
    browser_required,
    live_server,
)
from fastapi.testclient import TestClient

from tailorcrm.api import create_app
from tailorcrm.demo.run import run_demo
from tailorcrm.settings import Settings
from tailorcrm.store import Store


def _demo_console(url: str, root: Path) -> Console:
    artifacts = root / "artifacts"
    store = Store.open(url, artifacts_dir=artifacts)
    result = run_demo(store, "demo", root / "work", artifacts, SMALL_DEMO)
    tid = result.tenant_id
    keys = {s: store.keys.create(tid, [s])[1] for s in ("read", "write", "admin")}
    other = store.tenants.ensure("other")
    keys["other"] = store.keys.create(other, ["admin"])[1]
    app = create_app(Settings(database_url=url, artifacts_dir=artifacts), store)
    return Console(TestClient(app), store, tid, keys)


@pytest.fixture(scope="module")
def demo_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The small demo trained on a SQLite file, once per module; not signed in."""
    root = tmp_path_factory.mktemp("console")
    made = _demo_console(f"sqlite:///{root / 'demo.db'}", root)
    yield made
    made.store.close()


@pytest.fixture()
def console(demo_console: Console) -> Iterator[Console]:
    """A fresh client (no cookies) over the module's demo tenant."""
    app = demo_console.client.app
    with TestClient(app) as client:  # type: ignore[arg-type]
        yield Console(client, demo_console.store, demo_console.tid, demo_console.keys)


@pytest.fixture(scope="module")
def pg_console(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
               ) -> Iterator[Console]:
    """The small demo trained on a real PostgreSQL database."""
    url = request.getfixturevalue("postgres_module_url")
    made = _demo_console(url, tmp_path_factory.mktemp("console-pg"))
    yield made
    made.store.close()


@pytest.fixture(scope="module")
def server(demo_console: Console) -> Iterator[str]:
    """The demo console over real HTTP."""
    with live_server(demo_console.client.app) as url:  # type: ignore[arg-type]
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A real headless Chromium driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        if browser_required():
            raise
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if browser_required():
            pytest.fail(f"Chromium not found at {CHROMIUM} (TAILORCRM_REQUIRE_BROWSER=1)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()
