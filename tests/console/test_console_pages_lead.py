"""The overview, customer 360 and rules pages over the demo tenant, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

import pytest
from console_helpers import Console


def _pages(c: Console) -> None:
    c.sign_in("admin")
    overview = c.client.get("/console/")
    assert overview.status_code == 200
    count = c.store.customers.count(c.tid)
    assert f'id="n-customers">{count:,}<' in overview.text
    customer = c.client.get("/console/customers/cust-0010")
    assert customer.status_code == 200
    assert 'id="recs-default"' in customer.text and 'id="needs"' in customer.text
    assert c.client.get("/console/customers/nobody-here").status_code == 404
    found = c.client.get("/console/customers?q=cust-001")
    assert "cust-0010" in found.text
    editor = c.client.get("/console/configs/strategy/default")
    assert editor.status_code == 200 and 'name = "default"' in html.unescape(editor.text)
    text = '[[filters]]\nname = "cheap"\nexpression = "item.price < 40.0"\n'
    preview = c.post("/console/configs/rules/cheap/preview", {"text": text})
    assert preview.status_code == 200, preview.text
    active = float(re.search(r'data-active="coverage">([0-9.]+)<', preview.text).group(1))
    edited = float(re.search(r'data-edited="coverage">([0-9.]+)<', preview.text).group(1))
    assert edited < active
    saved = c.post("/console/configs/rules/cheap/save", {"text": text})
    assert saved.status_code == 303
    assert c.store.configs.versions(c.tid, "rules", "cheap") == [1]


def test_pages_on_sqlite(console: Console) -> None:
    _pages(console)


@pytest.mark.postgres
def test_pages_on_postgres(pg_console: Console) -> None:
    _pages(pg_console)


def test_write_key_cannot_edit_rules_and_read_key_cannot_post_feedback(console: Console
                                                                       ) -> None:
    console.sign_in("write")
    answer = console.post("/console/configs/rules/x/save", {"text": "filters = []"})
    assert answer.status_code == 403
    assert console.store.configs.versions(console.tid, "rules", "x") == []
    console.client.cookies.clear()
    console.sign_in("read")
    answer = console.post("/console/customers/cust-0010/feedback", {
        "recommendation_id": "r", "item_id": "item-0001", "outcome": "rejected"})
    assert answer.status_code == 403


def test_feedback_on_another_customers_list_is_refused(console: Console) -> None:
    from tailorcrm.serving.recommend import recommend

    served = recommend(console.store, console.client.app.state.cache,  # type: ignore[attr-defined]
                       console.tid, "cust-0011", n=3)
    console.sign_in("write")
    answer = console.post("/console/customers/cust-0010/feedback", {
        "recommendation_id": served.recommendation_id, "item_id": served.items[0]["item_id"],
        "outcome": "rejected"}, headers={"HX-Request": "true"})
    assert answer.status_code == 404
    events = console.store.events.for_customer(console.tid, "cust-0011", limit=3)
    assert not any(e.type == "reject" for e in events)


def test_erase_needs_the_typed_id(console: Console) -> None:
    console.sign_in("admin")
    assert console.post("/console/customers/cust-0020/erase",
                        {"confirm": "cust-0021"}).status_code == 422
    assert console.store.customers.find(console.tid, "cust-0020") is not None
    assert console.post("/console/customers/cust-0020/erase",
                        {"confirm": "cust-0020"}).status_code == 303
    assert console.store.customers.find(console.tid, "cust-0020") is None
