"""Attribution and statistics on simulated tenants: a planted 10 % lift is found with the
planted effect inside its interval; with no effect (A/A) about 5 % of seeds are significant."""

from __future__ import annotations

import datetime as dt

import numpy as np

from tailorcrm.experiments.assign import assign
from tailorcrm.experiments.attribution import Exposure, Outcome, Rules, attribute
from tailorcrm.experiments.config import Experiment
from tailorcrm.experiments.report import ExperimentResults, summarize

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
AS_OF = START + dt.timedelta(days=60)
HOUR = dt.timedelta(hours=1)


def _experiment(name: str = "sim") -> Experiment:
    return Experiment.model_validate({
        "name": name, "start": START, "window_hours": 48, "min_detectable_effect": 0.1,
        "variants": [{"name": "A", "share": 0.5, "control": True, "strategy": "a"},
                     {"name": "B", "share": 0.5, "strategy": "b"}],
        "guard_metrics": ["revenue"]})


def simulate(seed: int, n: int, base: float, lift: float, name: str = "sim"
             ) -> ExperimentResults:
    """``n`` customers split by the real assignment; each converts within the window after
    an exposure with the rate of their variant (B: ``base × (1 + lift)``), half of those
    purchases carrying the recommendation id (exact), half not (by window); everyone may also
    buy two weeks later (outside the window: not attributed by last touch)."""
    rng = np.random.default_rng(seed)
    exp = _experiment(name)
    exposures, outcomes = [], []
    for i in range(n):
        cid = f"s{seed}-c{i}"
        variant = assign(exp, 1, cid).variant.name
        seen = START + dt.timedelta(hours=float(rng.uniform(0, 24 * 20)))
        exposures.append(Exposure(cid, variant, seen))
        if rng.random() < 0.3:  # a second list served a day later
            exposures.append(Exposure(cid, variant, seen + 24 * HOUR))
        rate = base * (1 + lift) if variant == "B" else base
        if rng.random() < rate:
            exact = rng.random() < 0.5
            outcomes.append(Outcome(cid, "purchase", seen + float(rng.uniform(0.1, 40)) * HOUR,
                                    float(rng.gamma(2.0, 25.0)), variant if exact else None))
        if rng.random() < 0.05:
            outcomes.append(Outcome(cid, "purchase", seen + 14 * 24 * HOUR, 30.0))
    rules = Rules(start=exp.start, end=exp.end, window=dt.timedelta(hours=exp.window_hours),
                  churn=dt.timedelta(days=exp.churn_days), as_of=AS_OF)
    return summarize(exp, attribute(exposures, outcomes, ["A", "B"], rules), AS_OF)


def test_a_planted_ten_percent_lift_is_found_inside_its_interval() -> None:
    base, lift = 0.10, 0.10
    res = simulate(seed=11, n=60_000, base=base, lift=lift)
    a, b = res.views["last_touch"]
    conv = b.metrics["conversion"]
    assert conv.significant and conv.diff is not None and conv.diff > 0
    assert conv.p_value is not None and conv.p_value < 0.01
    assert conv.diff_low is not None and conv.diff_high is not None
    assert conv.diff_low <= base * lift <= conv.diff_high, conv
    assert res.winner == "B"
    assert not res.sample_ratio.mismatch and not res.power.under_powered
    assert conv.test == "two-proportion z test"
    assert b.metrics["revenue"].test == "Welch's t test"
    # any exposure also counts the purchases two weeks later: higher rates, same direction
    any_b = res.views["any_exposure"][1].metrics["conversion"]
    assert any_b.value is not None and conv.value is not None and any_b.value > conv.value
    assert a.metrics["conversion"].diff is None  # the control has no difference to itself


def test_an_a_a_test_is_significant_in_about_five_percent_of_seeds() -> None:
    seeds = 200
    hits = sum(bool(simulate(seed=s, n=1500, base=0.2, lift=0.0, name=f"aa-{s}").views[
        "last_touch"][1].metrics["conversion"].significant) for s in range(seeds))
    rate = hits / seeds
    assert 0.02 <= rate <= 0.09, rate


def test_a_small_test_warns_that_it_is_under_powered() -> None:
    res = simulate(seed=3, n=600, base=0.05, lift=0.1)
    assert res.power.under_powered
    assert res.power.needed_per_variant is not None and res.power.needed_per_variant > 10_000
    assert any("under-powered" in w for w in res.warnings)


def test_a_broken_split_is_flagged_as_sample_ratio_mismatch() -> None:
    exp = _experiment()
    exposures = [Exposure(f"c{i}", "A" if i % 3 else "B", START + HOUR) for i in range(3000)]
    rules = Rules(start=START, end=None, window=48 * HOUR, churn=dt.timedelta(days=30),
                  as_of=AS_OF)
    res = summarize(exp, attribute(exposures, [], ["A", "B"], rules), AS_OF)
    assert res.sample_ratio.mismatch and res.winner is None
    assert any("sample-ratio mismatch" in w for w in res.warnings)
