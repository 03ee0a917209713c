"""An experiment's results: per variant and view, each metric with its interval and its
difference to the control; the sample-ratio check and the power warning."""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from pydantic import BaseModel, Field

from tailorcrm.experiments import stats
from tailorcrm.experiments.attribution import VIEWS, Attributed, VariantData
from tailorcrm.experiments.config import PROPORTIONS, Experiment

SRM_ALPHA = 0.001  # a sample-ratio mismatch is flagged below this p-value


def _num(x: float | None) -> float | None:
    """JSON-safe: NaN and infinities become None."""
    return None if x is None or not math.isfinite(x) else round(float(x), 10)


class MetricResult(BaseModel):
    """One metric of one variant: value per customer (a rate or a mean), 95 % interval, and
    (except for the control) the difference to the control with its interval and p-value."""

    metric: str
    kind: Literal["rate", "mean"]
    n: int = Field(description="Customers the value is over.")
    total: float = Field(description="Customers with the outcome (rate) or summed value.")
    value: float | None
    low: float | None
    high: float | None
    diff: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None
    relative: float | None = None
    p_value: float | None = None
    test: str | None = None
    significant: bool | None = None


class VariantResult(BaseModel):
    """One variant of one view."""

    name: str
    control: bool
    share: float
    exposures: int
    customers: int
    purchases: int
    accepted: int
    rejected: int
    metrics: dict[str, MetricResult]


class PowerCheck(BaseModel):
    """Whether the smallest variant has the customers to detect the minimum effect."""

    metric: str
    min_detectable_effect: float
    needed_per_variant: int | None
    smallest_variant: int
    under_powered: bool


class SampleRatio(BaseModel):
    """Chi-square test of the customers per variant against the configured shares."""

    observed: dict[str, int]
    expected_shares: dict[str, float]
    p_value: float
    mismatch: bool


class Apart(BaseModel):
    """Customers without personalization consent: shown the control, counted apart."""

    customers: int
    exposures: int


class ExperimentResults(BaseModel):
    """What ``GET /v1/experiments/{name}/results`` answers."""

    experiment: str
    status: str
    surface: str
    placement: str
    as_of: dt.datetime
    primary_metric: str
    guard_metrics: list[str]
    alpha: float
    views: dict[str, list[VariantResult]]
    sample_ratio: SampleRatio
    power: PowerCheck
    without_consent: Apart
    exact_attributions: int
    crossovers: int
    winner: str | None = Field(None, description="The variant significantly better than the "
                                                 "control on the primary metric (last "
                                                 "touch), if exactly one is; churn: lower.")
    warnings: list[str]


def _metric(metric: str, data: VariantData, control: VariantData | None,
            alpha: float) -> MetricResult:
    values = data.values(metric)
    if metric in PROPORTIONS:
        x = int(values.sum())
        est = stats.proportion(x, len(values), alpha)
        out = MetricResult(metric=metric, kind="rate", n=len(values), total=x,
                           value=_num(est.value), low=_num(est.low), high=_num(est.high))
        if control is not None:
            base = control.values(metric)
            cmp = stats.compare_proportions(x, len(values), int(base.sum()), len(base), alpha)
        else:
            return out
    else:
        m = stats.mean(values, alpha)
        out = MetricResult(metric=metric, kind="mean", n=len(values),
                           total=round(float(values.sum()), 6), value=_num(m.value),
                           low=_num(m.low), high=_num(m.high))
        if control is None:
            return out
        cmp = stats.compare_means(values, control.values(metric), alpha)
    p = _num(cmp.p_value)
    return out.model_copy(update={
        "diff": _num(cmp.diff), "diff_low": _num(cmp.low), "diff_high": _num(cmp.high),
        "relative": _num(cmp.relative), "p_value": p, "test": cmp.test,
        "significant": None if p is None else p < alpha})


def _power(exp: Experiment, control: VariantData, sizes: list[int]) -> PowerCheck:
    metric = exp.primary_metric
    values = control.values(metric)
    if metric in PROPORTIONS:
        rate = float(values.mean()) if len(values) else math.nan
        needed = stats.needed_for_proportion(rate, exp.min_detectable_effect, exp.alpha,
                                             exp.power) if math.isfinite(rate) else None
    else:
        needed = stats.needed_for_mean(float(values.mean()), float(values.std(ddof=1)),
                                       exp.min_detectable_effect, exp.alpha,
                                       exp.power) if len(values) > 1 else None
    smallest = min(sizes) if sizes else 0
    return PowerCheck(metric=metric, min_detectable_effect=exp.min_detectable_effect,
                      needed_per_variant=needed, smallest_variant=smallest,
                      under_powered=needed is None or smallest < needed)


def _winner(exp: Experiment, rows: list[VariantResult]) -> str | None:
    lower_is_better = exp.primary_metric == "churn"
    better = []
    for row in rows:
        found = row.metrics[exp.primary_metric]
        if row.control or not found.significant or found.diff is None:
            continue
        if (found.diff < 0) == lower_is_better:
            better.append(row.name)
    return better[0] if len(better) == 1 else None


def summarize(exp: Experiment, got: Attributed, as_of: dt.datetime) -> ExperimentResults:
    """The results of an experiment from its attributed outcomes (pure: no store)."""
    metrics = ("conversion", "revenue", "click", "accepted", "churn")
    control = exp.control.name
    views: dict[str, list[VariantResult]] = {}
    for view in VIEWS:
        data = got.views[view]
        rows = []
        for v in exp.variants:
            d = data[v.name]
            base = None if v.control else data[control]
            rows.append(VariantResult(
                name=v.name, control=v.control, share=v.share, exposures=d.exposures,
                customers=len(d.customers), purchases=d.purchases, accepted=d.accepted_events,
                rejected=d.rejected_events,
                metrics={m: _metric(m, d, base, exp.alpha) for m in metrics}))
        views[view] = rows
    sizes = [len(got.views["last_touch"][v.name].customers) for v in exp.variants]
    srm_p = stats.sample_ratio(sizes, [v.share for v in exp.variants])
    srm = SampleRatio(observed={v.name: n for v, n in zip(exp.variants, sizes, strict=True)},
                      expected_shares={v.name: v.share for v in exp.variants},
                      p_value=round(srm_p, 10), mismatch=srm_p < SRM_ALPHA)
    power = _power(exp, got.views["last_touch"][control], sizes)
    warnings = []
    if srm.mismatch:
        warnings.append(f"sample-ratio mismatch (chi-square p = {srm_p:.2g}): customers do not "
                        "split by the configured shares; do not trust the differences")
    if power.under_powered:
        need = "unknown (no baseline yet)" if power.needed_per_variant is None else \
            f"{power.needed_per_variant:,}"
        warnings.append(f"under-powered: {need} customers per variant are needed to detect a "
                        f"{exp.min_detectable_effect:.0%} change of {exp.primary_metric}; the "
                        f"smallest variant has {power.smallest_variant:,}")
    if got.crossovers:
        warnings.append(f"{got.crossovers} outcomes credited a variant other than the "
                        "customer's (dropped)")
    winner = _winner(exp, views["last_touch"]) if not srm.mismatch else None
    return ExperimentResults(
        experiment=exp.name, status=exp.status, surface=exp.surface, placement=exp.placement,
        as_of=as_of, primary_metric=exp.primary_metric, guard_metrics=list(exp.guard_metrics),
        alpha=exp.alpha, views=views, sample_ratio=srm, power=power,
        without_consent=Apart(customers=len(got.without_consent.customers),
                              exposures=got.without_consent.exposures),
        exact_attributions=got.exact, crossovers=got.crossovers, winner=winner,
        warnings=warnings)
