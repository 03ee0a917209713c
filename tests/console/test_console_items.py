"""The console's Items pages: search, the most recommended items, one item with its similar
items from the served model; escaping, tenant isolation, the counts cache."""

from __future__ import annotations

import html
import re

import pytest
from console_helpers import Console

from tailorcrm.console.views import items as items_view
from tailorcrm.serving.recommend import similar_items

XSS = "<script>alert(1)</script>"


def first_item(console: Console) -> str:
    return console.store.items.list(console.tid, limit=1)[0].item_id


def test_search_by_id_prefix_and_by_title(console: Console) -> None:
    console.sign_in("read")
    items = console.store.items.list(console.tid, limit=500)
    prefix = items[0].item_id[:-1]
    page = console.client.get("/console/items", params={"q": prefix})
    assert page.status_code == 200
    found = re.findall(r'class="item-link">([^<]+)<', page.text)
    assert found and all(html.unescape(f).startswith(prefix) for f in found)
    assert sorted(html.unescape(f) for f in found) == sorted(
        i.item_id for i in items if i.item_id.startswith(prefix))[:50]
    titled = next(i for i in items if len(i.title) > 4)
    word = titled.title[1:4].upper()  # a piece of a title, in another case
    page = console.client.get("/console/items", params={"q": word})
    found = {html.unescape(f) for f in re.findall(r'class="item-link">([^<]+)<', page.text)}
    assert titled.item_id in found
    assert found == {i.item_id for i in items if word.lower() in i.title.lower()
                     or i.item_id.startswith(word)}


def test_a_search_without_hits_says_so_escaped(console: Console) -> None:
    console.sign_in("read")
    page = console.client.get("/console/items", params={"q": "<b>nothing%_"})
    assert page.status_code == 200 and 'id="no-hits"' in page.text
    assert "&lt;b&gt;nothing%_" in page.text and "<b>nothing" not in page.text


def test_the_most_recommended_items_and_the_never_recommended(console: Console) -> None:
    console.sign_in("read")
    page = console.client.get("/console/items").text
    lists = console.store.recommendations.strategies(console.tid)
    assert lists, "the demo precomputes lists"
    counts, read = console.store.console.recommended_counts(console.tid, "default")
    assert read == lists["default"]
    top_n = counts.most_common(1)[0][1]
    section = page.split('id="strategy-default"', 1)[1].split("</table>", 1)[0]
    first = re.search(r"<td>1</td><td><a [^>]+>([^<]+)</a></td><td>[^<]*</td>\s*"
                      r"<td>([\d,]+)</td><td>([\d.]+)%</td>", section)
    assert first, section
    assert int(first.group(2).replace(",", "")) == top_n
    assert counts[html.unescape(first.group(1))] == top_n
    assert float(first.group(3)) == pytest.approx(100 * top_n / read, abs=0.06)
    catalog, _ = console.store.items.catalog(console.tid)
    never = re.search(r'class="never-count">([\d,]+)<', section)
    assert never and int(never.group(1).replace(",", "")) == len(catalog - set(counts))


def test_an_items_page_shows_its_fields_similar_items_and_shares(console: Console) -> None:
    console.sign_in("read")
    counts, lists = console.store.console.recommended_counts(console.tid, "default")
    item_id = counts.most_common(1)[0][0]
    record = console.store.items.get(console.tid, item_id)
    page = console.client.get(f"/console/items/{item_id}")
    assert page.status_code == 200
    assert html.escape(record.title) in page.text
    version, similar = similar_items(console.store, console.client.app.state.cache,  # type: ignore[attr-defined]
                                     console.tid, item_id, 10)
    assert similar
    table = page.text.split('id="similar-items"', 1)[1].split("</table>", 1)[0]
    shown = re.findall(r'<a href="/console/items/[^"]+">([^<]+)</a>.*?class="score">([\d.]+)<',
                       table, re.S)
    assert [html.unescape(i) for i, _ in shown] == [i for i, _ in similar]
    assert [float(s) for _, s in shown] == pytest.approx([round(s, 3) for _, s in similar],
                                                         abs=1e-3)
    assert version in page.text
    share = re.search(r'data-strategy="default">.*?<td>([\d,]+) of ([\d,]+)</td>\s*'
                      r'<td>([\d.]+)%</td>\s*<td>1 of', page.text, re.S)
    assert share, page.text
    assert int(share.group(1).replace(",", "")) == counts[item_id]
    assert int(share.group(2).replace(",", "")) == lists


def test_user_text_is_escaped_on_the_item_pages(console: Console) -> None:
    console.store.items.upsert(console.tid, [{"item_id": "xss-1", "title": XSS,
                                              "description": "\"><img src=x onerror=alert(2)>",
                                              "categories": [XSS]}])
    console.sign_in("read")
    for path in ("/console/items/xss-1", "/console/items?q=xss"):
        page = console.client.get(path)
        assert page.status_code == 200
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert XSS not in page.text and "<img src=x" not in page.text
    never = console.client.get("/console/items/xss-1").text
    assert "never recommended" in never  # a new item is in no list yet


def test_unknown_and_other_tenants_items_are_404_pages(console: Console) -> None:
    item_id = first_item(console)
    console.sign_in("read")
    missing = console.client.get("/console/items/no-such-item")
    assert missing.status_code == 404 and 'id="error-message"' in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    console.client.cookies.clear()
    console.sign_in(secret=console.keys["other"])
    answer = console.client.get(f"/console/items/{item_id}")
    assert answer.status_code == 404
    listing = console.client.get("/console/items", params={"q": item_id}).text
    assert 'id="no-hits"' in listing and 'class="item-link"' not in listing
    assert 'id="no-lists"' in console.client.get("/console/items").text


def test_an_item_without_a_trained_model_says_so(console: Console) -> None:
    other = console.store.tenants.id_of("other")
    console.store.items.upsert(other, [{"item_id": "lonely", "title": "Lonely"}])
    console.sign_in(secret=console.keys["other"])
    page = console.client.get("/console/items/lonely")
    assert page.status_code == 200 and 'id="no-model"' in page.text
    assert "No recommender is trained yet" in page.text


def test_the_counts_are_cached_until_the_lists_change(console: Console,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    store = console.store
    items_view._counts.clear()
    calls: list[str] = []
    real = type(store.console).recommended_counts

    def counting(self: object, tid: int, strategy: str) -> object:
        calls.append(strategy)
        return real(self, tid, strategy)  # type: ignore[arg-type]

    monkeypatch.setattr(type(store.console), "recommended_counts", counting)
    first = items_view.items_page(store, console.tid, "")
    assert calls and first["strategies"]
    n = len(calls)
    assert items_view.items_page(store, console.tid, "") == first
    assert len(calls) == n  # the second view read no list
    stamp = store.console.list_stamps(console.tid)
    moved = {s: (c, m + 1) for s, (c, m) in stamp.items()}
    monkeypatch.setattr(type(store.console), "list_stamps", lambda self, tid: moved)
    items_view.items_page(store, console.tid, "")
    assert len(calls) == 2 * n  # a rewrite of the lists counts again


def test_the_items_pages_need_a_session(console: Console) -> None:
    for path in ("/console/items", "/console/items/x"):
        answer = console.client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and "/console/login" in answer.headers["location"]


@pytest.mark.postgres
def test_the_items_pages_on_postgres(pg_console: Console) -> None:
    pg_console.sign_in("read")
    page = pg_console.client.get("/console/items")
    assert page.status_code == 200 and 'id="strategy-default"' in page.text
    counts, _ = pg_console.store.console.recommended_counts(pg_console.tid, "default")
    top_id, top_n = counts.most_common(1)[0]
    assert f">{top_id}</a></td>" in page.text
    item = pg_console.client.get(f"/console/items/{top_id}")
    assert item.status_code == 200 and 'id="similar-items"' in item.text
    assert f"<td>{top_n:,} of" in item.text
    pg_console.store.items.upsert(pg_console.tid, [{"item_id": "pg-xss", "title": XSS}])
    found = pg_console.client.get("/console/items", params={"q": "SCRIPT>al"}).text
    assert "pg-xss" in found and XSS not in found
