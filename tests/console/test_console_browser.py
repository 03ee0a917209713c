"""The console in a real headless Chromium over real HTTP: sign in, every page of the lead's
part, feedback that changes a list, a rule edit whose preview changes, escaping."""

from __future__ import annotations

from typing import Any

from console_helpers import SHOTS, Console


def _page(browser: Any, server: str, key: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/console/")
    assert "/console/login" in page.url  # no session: the sign-in form
    page.fill("#api_key", key)
    page.click("#sign-in")
    page.wait_for_url(f"{server}/console/")
    return page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _customer(demo_console: Console) -> str:
    lists = demo_console.store.recommendations.get(demo_console.tid, "default", "cust-0010")
    assert lists is not None
    return "cust-0010"


def test_sign_in_and_overview(browser: Any, server: str, demo_console: Console) -> None:
    page = _page(browser, server, demo_console.keys["read"])
    assert page.inner_text("#tenant") == "demo"
    count = demo_console.store.customers.count(demo_console.tid)
    assert page.inner_text("#n-customers") == f"{count:,}"
    page.wait_for_function("document.querySelector('canvas[data-chart]').dataset.drawn === '1'")
    assert page.inner_text("#chosen-model")
    _shot(page, "overview")
    page.close()


def test_feedback_changes_the_list(browser: Any, server: str, demo_console: Console) -> None:
    cid = _customer(demo_console)
    page = _page(browser, server, demo_console.keys["admin"])
    page.goto(f"{server}/console/customers/{cid}")
    assert page.inner_text("#customer-id") == cid
    rows = page.locator("#recs-default tr[data-item]")
    first = rows.first.get_attribute("data-item")
    assert first
    _shot(page, "customer-360")
    rows.first.locator("button[data-outcome=rejected]").click()
    page.wait_for_selector("#recs-default .flash")
    after = [r.get_attribute("data-item") for r in
             page.locator("#recs-default tr[data-item]").all()]
    assert first not in after and len(after) >= 5
    stored = demo_console.store.events.for_customer(demo_console.tid, cid, limit=5)
    assert any(e.type == "reject" and e.item_id == first for e in stored)
    page.close()


def test_a_read_key_sees_no_forms(browser: Any, server: str, demo_console: Console) -> None:
    page = _page(browser, server, demo_console.keys["read"])
    page.goto(f"{server}/console/customers/{_customer(demo_console)}")
    assert page.locator("button[data-outcome]").count() == 0
    assert page.locator("#erase-form").count() == 0
    page.goto(f"{server}/console/configs/strategy/default")
    assert page.locator("#save").count() == 0
    page.close()


def test_rule_edit_shows_errors_then_a_changed_preview(browser: Any, server: str,
                                                      demo_console: Console) -> None:
    page = _page(browser, server, demo_console.keys["admin"])
    page.goto(f"{server}/console/configs")
    page.select_option("#kind", "rules")
    page.fill("#new-name", "only_cheap")
    page.click("#new-config button[type=submit]")
    page.wait_for_url(f"{server}/console/configs/rules/only_cheap")
    broken = '[[filters]]\nname = "cheap"\nexpression = "item.price <"\n'
    page.fill("#text", broken)
    page.click("#check")
    page.wait_for_selector("#check-result .problems li")
    assert page.locator("#check-result li").first.get_attribute("data-line") == "3"
    page.fill("#text", '[[filters]]\nname = "cheap"\nexpression = "item.price < 40.0"\n')
    page.click("#preview")
    page.wait_for_selector("#preview-figures", timeout=120_000)
    active = float(page.inner_text("[data-active=coverage]"))
    edited = float(page.inner_text("[data-edited=coverage]"))
    assert edited < active  # only cheap items: fewer distinct items recommended
    assert page.locator(".sample").count() >= 1
    assert page.locator("text=changed").count() >= 1
    _shot(page, "rules-preview")
    page.click("#save")
    page.wait_for_selector("#flash")
    assert "version 1" in page.inner_text("#flash")
    page.close()


def test_user_text_is_escaped_in_the_browser(browser: Any, server: str,
                                             demo_console: Console) -> None:
    store, tid = demo_console.store, demo_console.tid
    evil = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>"
    store.customers.upsert(tid, [{"customer_id": "cust-0012", "attributes": {"notes": evil}}])
    store.configs.put(tid, "rules", "evil", {"description": evil, "filters": [
        {"name": "x", "expression": "true", "description": evil}]})
    page = _page(browser, server, demo_console.keys["admin"])
    page.goto(f"{server}/console/customers/cust-0012")
    assert evil in page.inner_text("#profile")
    assert page.locator("#profile script, #profile img").count() == 0
    page.goto(f"{server}/console/configs/rules/evil")
    assert evil in page.input_value("#text")
    page.click("#check")
    page.wait_for_selector("#valid")
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("main script, main img").count() == 0
    page.close()

