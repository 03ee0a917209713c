"""P(x) = N(x)/N: hand counts, planted rates inside their intervals, months and regression needs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError, ValidationError
from tailorcrm.needs.analysis import (
    AnalysisConfig,
    NeedAnalysis,
    analyze_need,
    month_cutoffs,
    rate_estimate,
)
from tailorcrm.schema.fields import FieldSpec, FieldType

PLANTED = {"basic": 0.30, "premium": 0.10}


class ColumnNeed:
    """A label need read from a customer column (what a field need does)."""

    def __init__(self, name: str, column: str) -> None:
        self.name = name
        self.column = column

    def labels(self, data: Dataset, cutoff: pd.Timestamp | None) -> pd.Series:
        return data.customers[self.column]


class BuysNext:
    """Derived need: any purchase in the ``horizon_days`` after the cut-off (active customers)."""

    name = "buys_next_30d"
    horizon_days = 30

    def labels(self, data: Dataset, cutoff: pd.Timestamp | None) -> pd.Series:
        assert cutoff is not None
        ev = data.events
        before = ev[ev["ts"] < cutoff]
        if before.empty:
            raise InsufficientDataError("no history")
        after = ev[(ev["ts"] >= cutoff) & (ev["ts"] < cutoff + pd.Timedelta(days=30))]
        active = pd.Index(before["customer_id"].unique())
        return pd.Series(active.isin(after["customer_id"]).astype(int), index=active)


@pytest.fixture(scope="module")
def planted() -> Dataset:
    rng = np.random.default_rng(7)
    n = 4000
    ids = [f"c{i:05d}" for i in range(n)]
    plan = rng.choice(["basic", "premium"], size=n, p=[0.6, 0.4])
    churn = rng.random(n) < np.where(plan == "basic", PLANTED["basic"], PLANTED["premium"])
    spend = rng.gamma(2.0, 50.0, size=n) * np.where(plan == "premium", 2.0, 1.0)
    customers = pd.DataFrame({"plan": plan, "churn": churn, "spend": spend,
                              "age": rng.integers(18, 80, size=n)},
                             index=pd.Index(ids, name="customer_id"))
    days = rng.integers(0, 365, size=20000)
    events = pd.DataFrame({
        "customer_id": rng.choice(ids, size=20000),
        "item_id": rng.choice(["a", "b", "c"], size=20000),
        "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"),
    }).sort_values("ts")
    fields = (
        FieldSpec(entity="customer", name="plan", type=FieldType.ENUM,
                  enum_values=("basic", "premium")),
        FieldSpec(entity="customer", name="churn", type=FieldType.BOOLEAN),
        FieldSpec(entity="customer", name="spend", type=FieldType.NUMBER),
        FieldSpec(entity="customer", name="age", type=FieldType.INTEGER),
    )
    return Dataset.from_events(events, customers=customers, customer_fields=fields)


def test_rate_is_hand_count_and_ci_holds_planted_rate(planted: Dataset) -> None:
    result = analyze_need(planted, ColumnNeed("churn", "churn"),
                          config=AnalysisConfig(by_fields=("plan",)))
    churn = planted.customers["churn"]
    assert result.kind == "rate"
    assert result.overall.n == len(churn)
    assert result.overall.n_positive == int(churn.sum())
    assert result.overall.value == pytest.approx(churn.mean())
    groups = {g.group: g for g in result.by_segment["plan"]}
    assert set(groups) == set(PLANTED)
    for plan, rate in PLANTED.items():
        mask = planted.customers["plan"] == plan
        g = groups[plan]
        assert g.n == int(mask.sum())
        assert g.n_positive == int(churn[mask].sum())
        assert g.ci_low is not None and g.ci_high is not None
        assert g.ci_low < rate < g.ci_high
        assert g.ci_low < g.value < g.ci_high
    # The planted difference is visible: the intervals do not overlap.
    assert groups["premium"].ci_high < groups["basic"].ci_low  # type: ignore[operator]


def test_wilson_interval_matches_the_formula() -> None:
    k, n, z = 37, 120, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    est = rate_estimate(k, n)
    assert est.ci_low == pytest.approx(centre - half, abs=1e-9)
    assert est.ci_high == pytest.approx(centre + half, abs=1e-9)
    edge = rate_estimate(0, 50)
    assert edge.ci_low == pytest.approx(0.0, abs=1e-12)
    assert edge.ci_high is not None and 0.0 < edge.ci_high < 0.1


def test_default_groupings_bin_numbers_and_skip_nothing_needed(planted: Dataset) -> None:
    result = analyze_need(planted, ColumnNeed("churn", "churn"))
    assert {"plan", "spend", "age"} <= set(result.by_segment)
    spend_groups = result.by_segment["spend"]
    assert len(spend_groups) == 5
    assert sum(g.n for g in spend_groups) == result.overall.n


def test_regression_need_gives_mean_with_interval(planted: Dataset) -> None:
    result = analyze_need(planted, ColumnNeed("spend", "spend"),
                          config=AnalysisConfig(by_fields=("plan",)))
    assert result.kind == "mean"
    assert result.overall.n_positive is None
    assert result.overall.value == pytest.approx(planted.customers["spend"].mean())
    groups = {g.group: g for g in result.by_segment["plan"]}
    # planted: gamma(2, 50) has mean 100, premium doubles it
    assert groups["basic"].ci_low < 100.0 < groups["basic"].ci_high  # type: ignore[operator]
    assert groups["premium"].ci_low < 200.0 < groups["premium"].ci_high  # type: ignore[operator]


def test_derived_need_by_month_equals_hand_count(planted: Dataset) -> None:
    need = BuysNext()
    segs = {"rfm": pd.Series("x", index=planted.customers.index[:100])}
    result = analyze_need(planted, need, config=AnalysisConfig(by_fields=()),
                          segmentations=segs)
    cutoffs = month_cutoffs(planted, 30)
    assert len(result.by_month) == len(cutoffs) >= 10
    for month, est in zip(cutoffs, result.by_month, strict=True):
        hand = need.labels(planted, month)
        assert est.month == month.strftime("%Y-%m")
        assert (est.n, est.n_positive) == (len(hand), int(hand.sum()))
    # the stored segmentation is a grouping; customers outside it fall in "(missing)"
    groups = {g.group: g.n for g in result.by_segment["rfm"]}
    assert groups["x"] <= 100 and groups["(missing)"] == result.overall.n - groups["x"]
    assert result.cutoff is not None


def test_results_round_trip_through_json(planted: Dataset) -> None:
    result = analyze_need(planted, ColumnNeed("churn", "churn"))
    again = NeedAnalysis.model_validate_json(result.model_dump_json())
    assert again == result


def test_clear_errors(planted: Dataset) -> None:
    with pytest.raises(ValidationError):
        analyze_need(planted, ColumnNeed("plan", "plan"))
    with pytest.raises(ValidationError):
        analyze_need(planted, ColumnNeed("churn", "churn"),
                     config=AnalysisConfig(by_fields=("nope",)))
    empty = planted.customers.assign(none=np.nan)
    data = Dataset(customers=empty, items=planted.items, events=planted.events)
    with pytest.raises(InsufficientDataError):
        analyze_need(data, ColumnNeed("none", "none"))


def test_with_the_need_definitions(planted: Dataset) -> None:
    from tailorcrm.needs.definitions import ChurnNeed, LabelNeed, SpendNeed

    label = analyze_need(planted, LabelNeed(name="churn", field="churn"),
                         config=AnalysisConfig(by_fields=("plan",)))
    assert label.overall.n_positive == int(planted.customers["churn"].sum())
    assert label.by_month == [] and label.cutoff is None
    churn = ChurnNeed(name="churn_30d", horizon_days=30)
    result = analyze_need(planted, churn, config=AnalysisConfig(by_fields=()))
    assert result.kind == "rate" and len(result.by_month) >= 10
    for est in result.by_month:
        hand = churn.labels(planted, pd.Timestamp(est.month + "-01", tz="UTC"), check=False)
        assert (est.n, est.n_positive) == (len(hand), int(hand.sum()))
    spend = analyze_need(planted, SpendNeed(name="spend_30d", horizon_days=30),
                         config=AnalysisConfig(by_fields=()))
    assert spend.kind == "mean" and spend.overall.n_positive is None


def test_ids_without_a_customer_record_are_not_counted(planted: Dataset) -> None:
    extra = pd.DataFrame({"customer_id": [f"anonymous:{i}" for i in range(300)],
                          "item_id": "a", "ts": pd.Timestamp("2024-03-01", tz="UTC")})
    data = planted.with_events(pd.concat([planted.events, extra]).sort_values("ts"))
    need = BuysNext()
    cutoff = pd.Timestamp("2024-06-01", tz="UTC")
    hand = need.labels(data, cutoff)
    assert hand.index.str.startswith("anonymous:").sum() == 300
    result = analyze_need(data, need, cutoff=cutoff, config=AnalysisConfig(by_fields=()))
    known = hand[~hand.index.str.startswith("anonymous:")]
    assert (result.overall.n, result.overall.n_positive) == (len(known), int(known.sum()))
