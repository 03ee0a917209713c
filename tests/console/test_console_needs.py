"""The console's Needs page and its CSV: the needs report's figures inside the console, the
per-tenant cache, escaping and tenant isolation."""

from __future__ import annotations

import csv
import io
import re

import pytest
from console_helpers import Console
from markupsafe import escape

from tailorcrm.console.views import needs as needs_view
from tailorcrm.needs.analysis_store import tenant_needs, tenant_report

XSS = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    needs_view.forget()


def test_the_page_shows_every_part_of_the_report(console: Console) -> None:
    console.sign_in("read")
    before = console.store.segments.list(console.tid)
    page = console.client.get("/console/needs")
    assert page.status_code == 200, page.text
    text = page.text
    report = tenant_report(console.store, console.tid, "demo", save_segments=False)
    names = [n.name for n in tenant_needs(console.store, console.tid)]
    assert names and report.needs
    for analysis in report.needs:  # an anchor per need, with its overall rate and interval
        assert f'id="need-{analysis.need}"' in text
        assert f'href="#need-{analysis.need}"' in text
        if analysis.kind == "rate":
            assert f"{analysis.overall.value:.1%}" in text
            assert f"{analysis.overall.ci_low:.1%}" in text
    assert 'id="rfm"' in text and "recency score" in text  # the RFM grid (SVG heat map)
    assert report.rfm is not None
    for s in report.rfm.segments:
        assert f"<td>{escape(s.label)}</td><td>{s.n:,}</td>" in text
    assert 'id="segments"' in text and "k-means" in text
    assert 'id="models"' in text and report.models
    for m in report.models:
        assert str(escape(m.version)) in text
        if m.grade:
            assert f'<span class="big">{m.grade}</span>' in text
    assert 'class="drivers"' in text  # top drivers
    act = report.actions[0]
    first = act.customers[0]
    assert (f'<a href="/console/customers/{first.customer_id}" class="customer-link">'
            f"{first.customer_id}</a>") in text
    assert 'href="/console/needs/act-first.csv"' in text
    assert "<script>" not in text.split("</head>", 1)[1]  # no inline script in the body
    assert console.store.segments.list(console.tid) == before  # a view stores nothing


def test_the_act_first_csv(console: Console) -> None:
    console.sign_in("read")
    answer = console.client.get("/console/needs/act-first.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    report = tenant_report(console.store, console.tid, "demo", save_segments=False)
    assert len(rows) == sum(a.n_scored for a in report.actions) > 0
    first = report.actions[0].customers[0]
    row = next(r for r in rows if r["need"] == report.actions[0].need and r["rank"] == "1")
    assert row["customer_id"] == first.customer_id
    assert float(row["priority"]) == pytest.approx(first.priority)


def test_the_csv_and_the_page_need_a_session(console: Console) -> None:
    for path in ("/console/needs", "/console/needs/act-first.csv"):
        answer = console.client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and "/console/login" in answer.headers["location"]
        assert "customer_id" not in answer.text


def test_a_second_view_comes_from_memory_until_the_data_changes(
        console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    real = needs_view.tenant_report

    def counting(*args: object, **kwargs: object) -> object:
        builds.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(needs_view, "tenant_report", counting)
    console.sign_in("read")
    first = console.client.get("/console/needs").text
    assert console.client.get("/console/needs").status_code == 200
    assert console.client.get("/console/needs/act-first.csv").status_code == 200
    assert len(builds) == 1
    stamp = re.search(r"Report of ([^(]+)\(", first)
    assert stamp and stamp.group(1) in console.client.get("/console/needs").text
    # a new event changes the key: the next view rebuilds
    customer = console.store.customers.list(console.tid, limit=1)[0].customer_id
    item = console.store.items.list(console.tid, limit=1)[0].item_id
    console.store.events.add(console.tid, [{"customer_id": customer, "item_id": item,
                                               "type": "view",
                                               "ts": "2024-01-02T03:04:05Z"}])
    assert console.client.get("/console/needs").status_code == 200
    assert len(builds) == 2


def test_segment_names_are_escaped(console: Console) -> None:
    ids = [c.customer_id for c in console.store.customers.list(console.tid, limit=200)]
    console.store.segments.replace(console.tid, "campaign",
                                   {cid: XSS if i % 2 else "plain" for i, cid in enumerate(ids)})
    try:
        console.sign_in("read")
        page = console.client.get("/console/needs").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert XSS not in page
    finally:
        console.store.segments.replace(console.tid, "campaign", {})


def test_another_tenant_sees_nothing_of_demo(console: Console) -> None:
    demo = console.store.need_scores.top(console.tid, tenant_needs(console.store,
                                                                   console.tid)[0].name, limit=5)
    console.sign_in(secret=console.keys["other"])
    page = console.client.get("/console/needs")
    assert page.status_code == 200
    assert "No needs are defined for this tenant" in page.text
    assert not any(f">{s.customer_id}<" in page.text for s in demo)
    rows = list(csv.reader(io.StringIO(console.client.get("/console/needs/act-first.csv").text)))
    assert len(rows) == 1  # the header only


def test_csv_cells_cannot_become_formulas() -> None:
    assert needs_view._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert needs_view._cell("@x") == "'@x" and needs_view._cell("c-1") == "c-1"
    assert needs_view._cell(-1.5) == -1.5


@pytest.mark.postgres
def test_the_needs_page_on_postgres(pg_console: Console) -> None:
    pg_console.sign_in("read")
    page = pg_console.client.get("/console/needs")
    assert page.status_code == 200
    report = tenant_report(pg_console.store, pg_console.tid, "demo", save_segments=False)
    assert report.needs and report.actions
    for analysis in report.needs:
        assert f'id="need-{analysis.need}"' in page.text
    first = report.actions[0].customers[0]
    assert f'href="/console/customers/{first.customer_id}"' in page.text
    rows = list(csv.DictReader(io.StringIO(
        pg_console.client.get("/console/needs/act-first.csv").text)))
    assert len(rows) == sum(a.n_scored for a in report.actions)
