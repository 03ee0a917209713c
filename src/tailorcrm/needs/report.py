"""The needs report: need rates, RFM grid, behavioural segments and model quality, HTML + JSON."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.needs.act_first import NeedActions, write_csv
from tailorcrm.needs.analysis import (
    AnalysisConfig,
    NeedAnalysis,
    NeedLike,
    SegmentSource,
    analyze_needs,
)
from tailorcrm.needs.charts import BAR, BASELINE, Bar, bar_chart, heat_map, line_chart
from tailorcrm.needs.definitions import as_utc
from tailorcrm.needs.rfm import (
    SEGMENT_LABELS,
    SEGMENT_ORDER,
    RFMConfig,
    RFMSummary,
    rfm_summary,
    rfm_table,
)
from tailorcrm.needs.segments import (
    Segmentation,
    SegmentationConfig,
    SegmentationProfile,
    behavioural_segments,
)

logger = logging.getLogger(__name__)


class ModelQuality(BaseModel):
    """A trained need model's test figures against its baseline, with its letter grade.

    Read from the metrics the prediction side registers with ``store.models``
    (``{"protocol", "model": {...}, "baseline": {...}, "baseline_kind", "grade": {...}}``).
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    kind: str = ""
    active: bool = True
    protocol: str = ""
    grade: str | None = None
    grade_explanation: str = ""
    baseline_kind: str = ""
    model_metrics: dict[str, float | None] = Field(default_factory=dict)
    baseline_metrics: dict[str, float | None] = Field(default_factory=dict)
    in_use: str = "model"
    """Whose scores are published: ``model`` or ``baseline`` (the model did not beat it)."""
    gate: str = ""
    """The publication gate's sentence (why the model is or is not in use)."""
    rejected: str = ""
    """A newer model that did not pass the gate while this one stays in use."""

    @classmethod
    def from_record(cls, name: str, version: str, kind: str, active: bool,
                    metrics: Mapping[str, Any]) -> ModelQuality:
        """From a model-store record; metrics without the expected keys give what they can."""
        grade = metrics.get("grade")
        model = metrics.get("model")
        flat = model if isinstance(model, Mapping) else {
            k: v for k, v in metrics.items() if isinstance(v, int | float)}
        baseline = metrics.get("baseline")
        return cls(
            name=name, version=version, kind=kind, active=active,
            protocol=str(metrics.get("protocol", "")),
            grade=grade.get("letter") if isinstance(grade, Mapping) else (
                str(grade) if grade is not None else None),
            grade_explanation=str(grade.get("explanation", ""))
            if isinstance(grade, Mapping) else "",
            baseline_kind=str(metrics.get("baseline_kind", "")),
            model_metrics=_numbers(flat),
            baseline_metrics=_numbers(baseline if isinstance(baseline, Mapping) else {}),
            in_use="baseline" if kind.startswith("need-baseline") else "model",
            gate=str(gate.get("reason", "")) if isinstance(gate := metrics.get("gate"),
                                                           Mapping) else "")


def _numbers(values: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or key == "n":
            continue
        out[str(key)] = None if value != value else float(value)  # NaN -> None
    return out


class NeedsReport(BaseModel):
    """Every figure of the report; the HTML is drawn from this and nothing else."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    generated_at: str
    reference: str
    n_customers: int
    n_events: int
    needs: list[NeedAnalysis] = Field(default_factory=list)
    rfm: RFMSummary | None = None
    segmentations: list[SegmentationProfile] = Field(default_factory=list)
    models: list[ModelQuality] = Field(default_factory=list)
    actions: list[NeedActions] = Field(default_factory=list)
    """Per need: top drivers and the customers to act on first (score × value)."""
    notes: list[str] = Field(default_factory=list)
    _rankings: list[pd.DataFrame] = PrivateAttr(default_factory=list)

    def attach_rankings(self, rankings: list[pd.DataFrame]) -> None:
        """Keep every need's whole ranking for :func:`write_report`'s CSV (not in the JSON)."""
        self._rankings = list(rankings)


class ReportConfig(BaseModel):
    """What goes into the report and how each part is computed."""

    model_config = ConfigDict(extra="forbid")

    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    rfm: RFMConfig = Field(default_factory=RFMConfig)
    segmentation: SegmentationConfig = Field(default_factory=SegmentationConfig)
    behaviour_segments: bool = True
    act_first_rows: int = Field(default=20, ge=0)
    """Customers to act on first shown per need (the CSV holds them all)."""


def build_report(
    data: Dataset,
    needs: Iterable[NeedLike] = (),
    *,
    tenant: str = "default",
    reference: dt.datetime | pd.Timestamp | None = None,
    config: ReportConfig | None = None,
    rfm: pd.DataFrame | None = None,
    segmentation: Segmentation | None = None,
    extra_segmentations: Mapping[str, pd.Series] | None = None,
    models: Sequence[ModelQuality] = (),
) -> NeedsReport:
    """Compute the report's figures.

    RFM and behavioural segments are computed at ``reference`` (default: the day after the
    last event) unless given; both, with ``extra_segmentations``, are groupings of every need.
    """
    cfg = config or ReportConfig()
    table = rfm if rfm is not None else rfm_table(data, reference, cfg.rfm)
    ref = str(table.attrs.get("reference") or (as_utc(reference).isoformat() if reference
                                                else ""))
    notes: list[str] = []
    if segmentation is None and cfg.behaviour_segments:
        try:
            segmentation = behavioural_segments(data, reference=reference,
                                                config=cfg.segmentation)
        except InsufficientDataError as exc:
            notes.append(f"No behavioural segments: {exc.message}")
    groupings = _groupings(data, table, segmentation, cfg)
    groupings.update(extra_segmentations or {})
    need_list = list(needs)
    analyses = analyze_needs(data, need_list, config=cfg.analysis, segmentations=groupings)
    skipped = sorted({n.name for n in need_list} - {a.need for a in analyses})
    notes.extend(f"Need {name!r} has too little data to analyse." for name in skipped)
    if not need_list:
        notes.append("No needs are defined for this tenant.")
    if not models:
        notes.append("No trained need models yet: model quality appears once models exist.")
    return NeedsReport(
        tenant=tenant, generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        reference=ref, n_customers=len(data.customers), n_events=len(data.events),
        needs=analyses, rfm=rfm_summary(table),
        segmentations=[segmentation.profile] if segmentation is not None else [],
        models=list(models), notes=notes)


def _groupings(data: Dataset, table: pd.DataFrame, segmentation: Segmentation | None,
               cfg: ReportConfig) -> dict[str, SegmentSource]:
    """RFM and behavioural segments as groupings: as of now for label needs, as of the
    cut-off for derived needs (segments after the cut-off would already know the outcome)."""

    rfm_memo: dict[pd.Timestamp, pd.Series] = {}
    seg_memo: dict[pd.Timestamp, pd.Series] = {}

    def rfm_at(cutoff: pd.Timestamp | None) -> pd.Series:
        if cutoff is None:
            return table["segment"]
        if cutoff not in rfm_memo:
            rfm_memo[cutoff] = rfm_table(data, cutoff, cfg.rfm)["segment"]
        return rfm_memo[cutoff]

    out: dict[str, SegmentSource] = {"rfm": rfm_at}
    if segmentation is not None:
        seg = segmentation

        def behaviour_at(cutoff: pd.Timestamp | None) -> pd.Series:
            if cutoff is None:
                return seg.assignment
            if cutoff not in seg_memo:
                seg_memo[cutoff] = seg.assign(data, cutoff)
            return seg_memo[cutoff]

        out[seg.profile.name] = behaviour_at
    return out


# -- HTML ---------------------------------------------------------------------------------
def _need_charts(analysis: NeedAnalysis) -> dict[str, Any]:
    percent = analysis.kind == "rate"
    charts: list[Markup] = []
    for grouping, groups in analysis.by_segment.items():
        if grouping == "rfm":  # the grid's order, best customers first
            groups = sorted(groups, key=lambda g: (SEGMENT_ORDER.index(g.group)
                                                   if g.group in SEGMENT_ORDER else 99))
        bars = [Bar(SEGMENT_LABELS.get(g.group, g.group) if grouping == "rfm" else g.group,
                    g.value, g.ci_low, g.ci_high, f"n={g.n:,}") for g in groups]
        what = "rate" if percent else "mean"
        charts.append(Markup(bar_chart(
            bars, title=f"{analysis.need}: {what} by {grouping}", percent=percent,
            reference=analysis.overall.value)))
    monthly = None
    if analysis.by_month:
        points = [Bar(m.month, m.value, m.ci_low, m.ci_high, f"n={m.n:,}")
                  for m in analysis.by_month]
        monthly = Markup(line_chart(
            points, title=f"{analysis.need} by cut-off month", percent=percent))
    return {"analysis": analysis, "charts": charts, "monthly": monthly, "percent": percent}


def _rfm_chart(rfm: RFMSummary) -> Markup:
    by_cell = {(c.r, c.f): c for c in rfm.grid}
    values = [[float(by_cell[(r, f)].n) if (r, f) in by_cell else 0.0 for f in range(1, 6)]
              for r in range(5, 0, -1)]
    notes = [[(f"mean monetary {by_cell[(r, f)].mean_monetary:,.2f}"
               if (r, f) in by_cell and by_cell[(r, f)].mean_monetary is not None else "")
              for f in range(1, 6)] for r in range(5, 0, -1)]
    return Markup(heat_map(
        values, rows=[f"R{r}" for r in range(5, 0, -1)], cols=[f"F{f}" for f in range(1, 6)],
        title="Customers by recency (R) × frequency (F) score", row_title="recency score",
        col_title="frequency score", notes=notes))


def _rfm_segments_chart(rfm: RFMSummary) -> Markup:
    bars = [Bar(s.label, s.share, note=f"n={s.n:,}") for s in rfm.segments]
    return Markup(bar_chart(bars, title="RFM segments (share of customers)"))


def _segment_chart(profile: SegmentationProfile) -> Markup:
    bars = [Bar(s.segment, s.share, note=f"n={s.n:,}") for s in profile.segments]
    return Markup(bar_chart(
        bars, title=f"{profile.name} segments (share of customers)"))


def _model_chart(model: ModelQuality) -> Markup | None:
    """Model against baseline on the metrics in [0, 1] where higher is better."""
    bars: list[Bar] = []
    for metric in ("roc_auc", "pr_auc", "r2"):
        for who, values in (("model", model.model_metrics), ("baseline", model.baseline_metrics)):
            value = values.get(metric)
            if value is not None:
                bars.append(Bar(f"{metric} {who}", max(0.0, value),
                                colour=BAR if who == "model" else BASELINE))
    if not bars:
        return None
    return Markup(bar_chart(bars, title=f"{model.name}: model vs baseline", percent=False))


def report_context(report: NeedsReport) -> dict[str, Any]:
    """What ``report_sections.html.j2`` draws a report from: the report and its SVG charts
    (need rates by segment and month, RFM grid and segments, segment profiles, model vs
    baseline). The static report and the web console's Needs page both render it."""
    return {"report": report, "needs": [_need_charts(a) for a in report.needs],
            "rfm_chart": _rfm_chart(report.rfm) if report.rfm else None,
            "rfm_segments_chart": _rfm_segments_chart(report.rfm) if report.rfm else None,
            "segmentations": [(p, _segment_chart(p)) for p in report.segmentations],
            "models": [(m, _model_chart(m)) for m in report.models]}


def rankings(report: NeedsReport) -> list[pd.DataFrame]:
    """Every need's whole ranking of customers to act on (as :func:`write_report`'s CSV)."""
    return list(report._rankings)


def render_html(report: NeedsReport) -> str:
    """The report as one self-contained HTML page (inline SVG and CSS, no scripts)."""
    env = Environment(loader=PackageLoader("tailorcrm.needs", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.get_template("report.html.j2")
    return template.render(**report_context(report))


def write_report(report: NeedsReport, html_path: str | None = None,
                 json_path: str | None = None, csv_path: str | None = None) -> None:
    """Write the HTML and/or the JSON of a report, and with ``csv_path`` every need's
    customers to act on first, ranked by score × value (see ``needs/act_first.py``)."""
    from pathlib import Path

    if csv_path:
        rows = write_csv(report._rankings, csv_path)
        logger.info("wrote %s (%d rows)", csv_path, rows)

    if html_path:
        Path(html_path).write_text(render_html(report), encoding="utf-8")
        logger.info("wrote %s", html_path)
    if json_path:
        Path(json_path).write_text(report.model_dump_json(indent=2), encoding="utf-8")
        logger.info("wrote %s", json_path)
