"""Segments and profiles stored and read back, and the report command, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from tailorcrm.cli.main import app
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import DemoData, generate
from tailorcrm.needs.analysis_store import (
    load_profile,
    load_rfm_summary,
    stored_segments,
    tenant_needs,
    tenant_report,
)
from tailorcrm.needs.definitions import ChurnNeed, LabelNeed, save_need
from tailorcrm.needs.report import NeedsReport, ReportConfig
from tailorcrm.needs.rfm import rfm_summary, rfm_table
from tailorcrm.needs.segments import SegmentationConfig, behavioural_segments
from tailorcrm.store import Store

CONFIG = ReportConfig(segmentation=SegmentationConfig(k_max=4, n_init=2))


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate(DemoConfig(n_customers=160, n_items=40))


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in frame.to_dict("records")]


def _load(store: Store, demo: DemoData) -> int:
    tid = store.tenants.ensure("demo")
    for spec in demo.fields():
        store.fields.add(tid, spec)
    store.customers.upsert(tid, _rows(demo.customers))
    store.items.upsert(tid, _rows(demo.items))
    keep = demo.events["type"].isin(["purchase", "return", "service_ticket", "feedback"])
    store.events.add(tid, _rows(demo.events[keep]))
    return tid


@pytest.fixture()
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as s:
        yield s


def test_segments_and_profiles_round_trip(store: Store, demo: DemoData) -> None:
    tid = _load(store, demo)
    save_need(store, tid, ChurnNeed(name="churn_90d", horizon_days=90))
    save_need(store, tid, LabelNeed(name="wants_news", field="newsletter"))
    metrics = {"model": {"roc_auc": 0.8}, "baseline": {"roc_auc": 0.7},
               "grade": {"letter": "B", "explanation": "better"}}
    store.models.register(tid, "need:churn_90d", "1", "need:logistic", "/tmp/none", metrics,
                          activate=True)
    store.models.register(tid, "need:churn_90d", "2", "need:logistic", "/tmp/none", {})
    store.models.register(tid, "recommender", "1", "ease", "/tmp/none", {})
    report = tenant_report(store, tid, "demo", config=CONFIG)
    data = store.load_dataset(tid)

    table = rfm_table(data)
    rfm = stored_segments(store, tid, "rfm")
    assert rfm.to_dict() == table["segment"].to_dict()
    assert load_rfm_summary(store, tid) == rfm_summary(table) == report.rfm

    seg = behavioural_segments(data, config=CONFIG.segmentation)
    behaviour = stored_segments(store, tid, "behaviour")
    assert behaviour.to_dict() == seg.assignment.to_dict()
    assert load_profile(store, tid, "behaviour") == seg.profile == report.segmentations[0]

    some = str(table.index[0])
    assert store.segments.of_customer(tid, some) == {
        "behaviour": seg.assignment[some], "rfm": table.loc[some, "segment"]}
    assert sorted(n.name for n in tenant_needs(store, tid)) == ["churn_90d", "wants_news"]
    assert sorted(a.need for a in report.needs) == ["churn_90d", "wants_news"]
    # the active version of the need's model; other models are not need models
    assert [(m.name, m.version) for m in report.models] == [("need:churn_90d", "1")]
    assert report.models[0].model_metrics == {"roc_auc": 0.8}
    assert report.models[0].grade == "B"


def test_other_stored_segmentations_group_the_needs(store: Store, demo: DemoData) -> None:
    tid = _load(store, demo)
    save_need(store, tid, LabelNeed(name="wants_news", field="newsletter"))
    ids = [str(c) for c in demo.customers["customer_id"]]
    store.segments.replace(tid, "vip", {c: ("vip" if i % 4 == 0 else "rest")
                                        for i, c in enumerate(ids)})
    report = tenant_report(store, tid, "demo", config=CONFIG, save_segments=False)
    need = report.needs[0]
    assert {g.group for g in need.by_segment["vip"]} == {"vip", "rest"}
    assert sum(g.n for g in need.by_segment["vip"]) == need.overall.n
    assert store.segments.list(tid).keys() == {"vip"}  # nothing stored with save_segments off


def test_report_command(sqlite_url: str, demo: DemoData, tmp_path: Path) -> None:
    with Store.open(sqlite_url) as store:
        tid = _load(store, demo)
        save_need(store, tid, ChurnNeed(name="churn_90d", horizon_days=90))
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    result = CliRunner().invoke(app, ["needs", "report", "--db", sqlite_url, "--tenant", "demo",
                                      "--out", str(out), "--json", str(js), "--k-max", "4"])
    assert result.exit_code == 0, result.output
    report = NeedsReport.model_validate(json.loads(js.read_text()))
    assert report.tenant == "demo" and report.needs[0].need == "churn_90d"
    assert "churn_90d" in out.read_text()
    beside = tmp_path / "r-act-first.csv"  # written beside the report (no scores yet: header)
    assert beside.read_text().startswith("need,rank,customer_id,score,value,priority")
    result = CliRunner().invoke(app, ["needs", "segment", "--db", sqlite_url, "--tenant", "demo",
                                      "--k-max", "4"])
    assert result.exit_code == 0, result.output
    assert "Champions" in result.output or "Loyal" in result.output
    missing = CliRunner().invoke(app, ["needs", "report", "--db", sqlite_url, "--tenant", "nope",
                                       "--out", str(out)])
    assert missing.exit_code == 4  # NotFoundError's exit code
