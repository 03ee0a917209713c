"""The needs report on demo data: planted drivers in the figures, JSON = analysis, HTML renders."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape

from tailorcrm.data.dataset import Dataset
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.generator import DemoData, generate
from tailorcrm.needs.analysis import AnalysisConfig, analyze_need
from tailorcrm.needs.definitions import ChurnNeed, PropensityNeed, SpendNeed
from tailorcrm.needs.report import (
    ModelQuality,
    NeedsReport,
    ReportConfig,
    build_report,
    render_html,
    write_report,
)
from tailorcrm.needs.rfm import rfm_summary, rfm_table
from tailorcrm.needs.segments import SegmentationConfig

CONFIG = ReportConfig(analysis=AnalysisConfig(by_fields=("contract", "industry")),
                      segmentation=SegmentationConfig(k_max=5, n_init=3))


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate(DemoConfig(n_customers=700, n_items=100))


@pytest.fixture(scope="module")
def data(demo: DemoData) -> Dataset:
    return demo.to_dataset()


def _needs(demo: DemoData) -> list[ChurnNeed | PropensityNeed | SpendNeed]:
    category = demo.truth.category_propensity["category"]
    return [ChurnNeed(name="churn_90d", horizon_days=90),
            PropensityNeed(name="buys_category", horizon_days=90, categories=(category,)),
            SpendNeed(name="spend_90d", horizon_days=90)]


@pytest.fixture(scope="module")
def report(demo: DemoData, data: Dataset) -> NeedsReport:
    metrics = {"protocol": "time-aware split", "baseline_kind": "recency rule",
               "model": {"roc_auc": 0.83, "brier": 0.15, "n": 500.0},
               "baseline": {"roc_auc": 0.71, "brier": 0.19, "n": 500.0},
               "grade": {"letter": "B", "explanation": "ROC-AUC 0.12 above the baseline"},
               "selection": {"logistic": {"brier": 0.2}}}
    models = [ModelQuality.from_record("need:churn_90d", "3", "need:logistic", True, metrics)]
    return build_report(data, _needs(demo), tenant="demo", config=CONFIG, models=models)


def test_planted_drivers_show_in_the_rates(demo: DemoData, report: NeedsReport) -> None:
    churn = next(a for a in report.needs if a.need == "churn_90d")
    by_contract = {g.group: g for g in churn.by_segment["contract"]}
    # planted: month-to-month raises churn, two-year lowers it
    assert demo.truth.churn_driver_signs["contract=month-to-month"] > 0
    assert by_contract["month-to-month"].ci_low > by_contract["two-year"].ci_high  # type: ignore[operator]
    planted = demo.truth.category_propensity
    propensity = next(a for a in report.needs if a.need == "buys_category")
    by_field = {g.group: g.value for g in propensity.by_segment[planted["field"]]}
    assert max(by_field, key=lambda k: by_field[k]) == planted["value"]
    spend = next(a for a in report.needs if a.need == "spend_90d")
    assert spend.kind == "mean" and spend.overall.n_positive is None


def test_json_figures_equal_the_analysis(demo: DemoData, data: Dataset, report: NeedsReport,
                                         tmp_path: Path) -> None:
    for need in _needs(demo):
        direct = analyze_need(data, need, config=CONFIG.analysis)
        shown = next(a for a in report.needs if a.need == need.name)
        assert shown.overall == direct.overall
        assert shown.by_month == direct.by_month
        for field in ("contract", "industry"):
            assert shown.by_segment[field] == direct.by_segment[field]
    assert report.rfm == rfm_summary(rfm_table(data))
    write_report(report, str(tmp_path / "r.html"), str(tmp_path / "r.json"))
    again = NeedsReport.model_validate_json((tmp_path / "r.json").read_text())
    assert again == report


def test_derived_needs_are_grouped_by_segments_at_their_cutoff(data: Dataset,
                                                               report: NeedsReport) -> None:
    churn = next(a for a in report.needs if a.need == "churn_90d")
    assert churn.cutoff is not None
    at_cutoff = rfm_table(data, pd.Timestamp(churn.cutoff))["segment"]
    labels = ChurnNeed(name="churn_90d", horizon_days=90).labels(
        data, pd.Timestamp(churn.cutoff), check=False)
    hand = labels.groupby(at_cutoff.reindex(labels.index)).agg(["size", "sum"])
    shown = {g.group: (g.n, g.n_positive) for g in churn.by_segment["rfm"]}
    assert shown == {seg: (int(r["size"]), int(r["sum"])) for seg, r in hand.iterrows()}
    assert "behaviour" in churn.by_segment


def test_html_is_self_contained_and_shows_the_figures(report: NeedsReport) -> None:
    html = render_html(report)
    for analysis in report.needs:
        assert analysis.need in html
    assert f"{report.needs[0].overall.value:.1%}" in html
    n_charts = sum(len(a.by_segment) + (1 if a.by_month else 0) for a in report.needs)
    # + RFM grid, RFM segments, behaviour segments, model vs baseline
    assert html.count("<svg") == n_charts + 4
    assert "<script" not in html and "https://" not in html
    assert html.replace("http://www.w3.org/2000/svg", "").count("http://") == 0
    assert "roc_auc" in html and "0.83" in html and "0.71" in html
    assert "ROC-AUC 0.12 above the baseline" in html and "recency rule" in html
    assert report.models[0].model_metrics == {"roc_auc": 0.83, "brier": 0.15}
    for profile in report.segmentations[0].segments:
        assert str(escape(profile.description)) in html


def _png_distinct_rows(path: Path) -> tuple[int, int]:
    """(distinct scanlines, height) of a PNG: a blank page has one distinct filtered row."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 4
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos:pos + 4])
        kind, body = blob[pos + 4:pos + 8], blob[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            bpp = {2: 3, 6: 4, 0: 1, 4: 2}[colour] * depth // 8
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * bpp
    rows = {raw[i:i + stride] for i in range(0, len(raw), stride)}
    return len(rows), height


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium is not installed (apt-get install -y chromium)")
def test_report_renders_in_a_real_browser(report: NeedsReport, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    shot = tmp_path / "report.png"
    write_report(report, str(page))
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", f"--screenshot={shot}",
             "--window-size=1200,2000", page.as_uri()],
            check=True, capture_output=True, timeout=120,
            env={**os.environ, "HOME": profile})
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    distinct, height = _png_distinct_rows(shot)
    assert height == 2000
    assert distinct > 300  # text, bars and tables on most rows; a blank page has ~1
