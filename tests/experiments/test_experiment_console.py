"""The console's Experiments pages: the list and one experiment's results (escaped text,
tenant isolation, admin-only stop) through the test client, and in a real headless Chromium
over real HTTP: sign in, the tables, the attribution views, stop and promote from the form."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from experiment_helpers import Tenant, experiment_body, trained_tenant

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "console"))

from console_helpers import (  # beside the console tests' helpers
    CHROMIUM,
    LAUNCH_ARGS,
    SHOTS,
    Console,
    browser_required,
    live_server,
)

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    folder = tmp_path_factory.mktemp("exp-console")
    t = trained_tenant(f"sqlite:///{folder / 'db.sqlite'}", folder / "artifacts")
    body = experiment_body("hp-console", description=f"homepage test {XSS}")
    assert t.client.put("/v1/experiments/hp-console", json=body,
                        headers=t.h("admin")).status_code == 200
    now = dt.datetime.now(dt.UTC).isoformat()
    events = []
    for c in range(120):
        rid = t.client.get(f"/v1/customers/c{c}/recommendations?strategy=homepage",
                           headers=t.h("read")).json()["recommendation_id"]
        if c % 4 == 0:
            events.append({"customer_id": f"c{c}", "item_id": "i1", "type": "purchase",
                           "value": 9.0, "ts": now, "attributes": {"recommendation_id": rid}})
    assert t.client.post("/v1/events", json=events, headers=t.h("write")).status_code == 200
    t.flush()
    other = t.store.tenants.ensure("other")
    t.keys["other"] = t.store.keys.create(other, ["admin"])[1]
    yield t
    t.store.close()


def _console(t: Tenant) -> Console:
    from fastapi.testclient import TestClient

    return Console(TestClient(t.client.app), t.store, t.tid, t.keys)


def test_pages_list_and_report_an_experiment(tenant: Tenant) -> None:
    c = _console(tenant)
    assert c.sign_in("read").status_code == 303
    listing = c.client.get("/console/experiments")
    assert listing.status_code == 200
    assert 'href="/console/experiments/hp-console"' in listing.text
    assert "script-src 'self'" in listing.headers["content-security-policy"]
    page = c.client.get("/console/experiments/hp-console")
    assert page.status_code == 200, page.text
    text = page.text
    assert "conversion (primary)" in text and "two-proportion z test" in text
    assert "Welch&#39;s t test" in text or "Welch's t test" in text
    assert text.count('class="variant-row"') == 2 * 3  # two variants × three metric tables
    assert XSS not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert 'id="stop-read-only"' in text  # a read key cannot stop it
    assert c.post("/console/experiments/hp-console/stop", {"promote": "1"}).status_code == 403
    other = _console(tenant)
    other.sign_in(secret=tenant.keys["other"])
    assert other.client.get("/console/experiments/hp-console").status_code == 404
    assert "hp-console" not in other.client.get("/console/experiments").text


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A real headless Chromium driven by Playwright (fails instead of skipping under
    TAILORCRM_REQUIRE_BROWSER=1)."""
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


def test_the_experiment_page_in_a_browser(browser: Any, tenant: Tenant) -> None:
    t = tenant
    body = experiment_body("b-console", placement="b", variants=[
        {"name": "control", "share": 0.5, "control": True},
        {"name": "plain", "share": 0.5, "strategy": "a"}])
    assert t.client.put("/v1/experiments/b-console", json=body,
                        headers=t.h("admin")).status_code == 200
    with live_server(t.client.app) as server:  # type: ignore[arg-type]
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{server}/console/experiments")
        assert "/console/login" in page.url
        page.fill("#api_key", t.keys["admin"])
        page.click("#sign-in")
        page.wait_for_url(f"{server}/console/experiments")
        assert page.locator("tr.experiment-row").count() == 2
        assert page.locator("nav a.active").inner_text() == "Experiments"
        page.click("a[href='/console/experiments/hp-console']")
        page.wait_for_url(f"{server}/console/experiments/hp-console")
        assert page.inner_text("#experiment-name") == "hp-console"
        rows = page.locator("#metric-conversion tr.variant-row")
        assert rows.count() == 2
        assert page.locator("#metric-conversion tr[data-variant='diverse'] td.p-value"
                            ).inner_text().strip() != ""
        assert "Sample ratio" in page.inner_text("#srm")
        assert page.locator("#warnings li").count() >= 1  # under-powered at this size
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "experiment.png"), full_page=True)
        page.click("#view-any_exposure")
        page.wait_for_url("**view=any_exposure")
        assert page.locator("#view-any_exposure.active").count() == 1
        page.goto(f"{server}/console/experiments/b-console")
        page.select_option("#winner-choice", "plain")
        page.check("#promote")
        page.click("#stop-experiment")
        page.wait_for_url("**stopped=1")
        assert "stopped" in page.inner_text("#flash")
        assert page.locator("#experiment-meta .pill").inner_text() == "stopped"
        assert page.locator("#stop-form").count() == 0
        assert not problems, problems
        page.close()
    promoted = t.client.get("/v1/strategies/b", headers=t.h("read")).json()["body"]
    assert promoted["diversity"]["max_per_group"] is None  # strategy "a" copied over "b"
    entry = t.store.audit.list(t.tid, action="experiment.stop")[0]
    assert entry.actor.startswith("key:") and entry.details["promoted_to"] == "strategy:b"
