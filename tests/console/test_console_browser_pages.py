"""The Needs, Items and Jobs pages in a real headless Chromium over real HTTP: sign in through
the form, each page's DOM, escaping of an item's title, and a training run started from the
Jobs page whose live fragment reaches ``succeeded`` and then stops polling."""

from __future__ import annotations

import time
from typing import Any

from console_helpers import SHOTS, Console

from tailorcrm.needs.analysis_store import tenant_needs

XSS = "<script>alert(1)</script>"


def _page(browser: Any, server: str, key: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{server}/console/needs")
    assert "/console/login" in page.url  # no session: the sign-in form
    page.fill("#api_key", key)
    page.click("#sign-in")
    page.wait_for_url(f"{server}/console/needs")  # back where we wanted to go
    return page, problems


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _no_alert_script(page: Any) -> None:
    texts = page.eval_on_selector_all("script", "els => els.map(e => e.textContent)")
    assert not any("alert(" in t for t in texts)


def test_needs_page(browser: Any, server: str, demo_console: Console) -> None:
    page, problems = _page(browser, server, demo_console.keys["read"])
    names = [n.name for n in tenant_needs(demo_console.store, demo_console.tid)]
    assert names
    for name in names:
        assert page.locator(f"#need-{name}").count() == 1
    assert page.locator("#rfm svg").count() >= 2  # the grid and the segments' shares
    assert page.locator("#needs svg").count() >= len(names)
    assert page.locator("#models h3").count() >= 1
    link = page.locator("#act-first a.customer-link").first
    href = link.get_attribute("href")
    assert href == f"/console/customers/{link.inner_text()}"
    assert page.get_attribute("#act-first-csv", "href") == "/console/needs/act-first.csv"
    page.goto(f"{server}/console/needs#need-{names[-1]}")  # the overview's links land here
    assert page.locator(f"#need-{names[-1]}").is_visible()
    page.goto(f"{server}/console/needs")
    _shot(page, "needs")
    assert not problems, problems
    page.close()


def test_items_pages(browser: Any, server: str, demo_console: Console) -> None:
    demo_console.store.items.upsert(demo_console.tid, [{"item_id": "xss-browser",
                                                        "title": XSS,
                                                        "categories": ["<b>bold</b>"]}])
    page, problems = _page(browser, server, demo_console.keys["read"])
    page.goto(f"{server}/console/items")
    assert page.locator("#strategy-default").count() == 1
    assert page.locator("#most-recommended table.top-items tr").count() > 1
    assert int(page.inner_text(".never-count").replace(",", "")) >= 1  # the new item at least
    _shot(page, "items")
    page.fill("#q", "SCRIPT>")
    page.click("#search")
    page.wait_for_url("**/console/items?q=*")
    assert page.locator("a.item-link").all_inner_texts() == ["xss-browser"]
    assert XSS in page.inner_text("#hits")  # shown as text
    _no_alert_script(page)
    page.click("a.item-link")
    page.wait_for_url("**/console/items/xss-browser")
    assert page.inner_text("#item-title") == XSS
    assert page.locator("#item-fields b").count() == 0  # the category is text too
    _no_alert_script(page)
    counts, _ = demo_console.store.console.recommended_counts(demo_console.tid, "default")
    top = counts.most_common(1)[0][0]
    page.goto(f"{server}/console/items/{top}")
    assert page.locator("#similar-items tr").count() > 1
    scores = [float(s) for s in page.locator("#similar-items td.score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1.0001 for s in scores)
    assert "of" in page.inner_text("#item-recommended")
    _shot(page, "item")
    assert not problems, problems
    page.close()


def test_a_read_key_gets_no_job_forms(browser: Any, server: str, demo_console: Console) -> None:
    page, _ = _page(browser, server, demo_console.keys["read"])
    page.goto(f"{server}/console/jobs")
    assert page.locator("#train-form").count() == 0
    assert page.locator("#train-read-only").is_visible()
    page.close()


def test_training_from_the_jobs_page(browser: Any, server: str, demo_console: Console) -> None:
    page, problems = _page(browser, server, demo_console.keys["write"])
    page.goto(f"{server}/console/jobs")
    for step in ("needs", "segments", "strategies"):  # keep the run short
        page.uncheck(f"#train-form input[value={step}]")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/progress") else None)
    page.click("#start-training")
    page.wait_for_url("**/console/jobs?job=*")
    page.wait_for_selector("#job-live")
    job_id = page.get_attribute("#job-live", "data-job")
    assert job_id and job_id in page.url
    live = page.get_attribute("#job-live", "data-status")
    if live in ("queued", "running"):
        assert page.get_attribute("#job-live", "hx-trigger") == "every 1s"
        _shot(page, "jobs-running")
    page.wait_for_selector('#job-live[data-status="succeeded"]', timeout=240_000)
    assert live == "succeeded" or polls, "the fragment was polled while the job ran"
    version = demo_console.store.models.active(demo_console.tid, "recommender")
    assert version is not None and version.version in page.inner_text("#job-summary")
    assert page.get_attribute("#job-live", "hx-trigger") is None
    seen = len(polls)
    time.sleep(2.5)
    assert len(polls) == seen  # polling stopped with the job
    page.goto(f"{server}/console/jobs")
    row = page.locator(f'tr.job-row[data-job="{job_id}"]')
    assert "succeeded" in row.inner_text()
    assert page.locator("#train-form").is_visible()
    _shot(page, "jobs")
    assert not problems, problems
    page.close()
