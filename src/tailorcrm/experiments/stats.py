"""The statistics of an experiment report: intervals, tests, sample-ratio mismatch, power.

SciPy gives the distributions, Welch's t test with its interval
(``ttest_ind(equal_var=False)``) and the chi-square goodness-of-fit test. It has no
two-proportion z test and no power or sample-size functions (statsmodels has both but is not
a dependency), so those few formulas are written here on ``scipy.stats.norm``. The Wilson
interval is written here too: SciPy's (``binomtest(...).proportion_ci``) first runs an exact
binomial test whose p-value a report never uses, which made a report 5x slower.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

Z_TEST = "two-proportion z test"
WELCH = "Welch's t test"


@dataclass(frozen=True)
class Estimate:
    """A rate or mean per customer with its interval."""

    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Comparison:
    """A variant against the control: the difference (variant − control), its interval, the
    relative change, and the test's p-value."""

    diff: float
    low: float
    high: float
    relative: float | None
    p_value: float
    test: str


def proportion(successes: int, n: int, alpha: float = 0.05) -> Estimate:
    """A rate with its Wilson score interval (good for small counts and rates near 0 or 1)."""
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def mean(values: np.ndarray, alpha: float = 0.05) -> Estimate:
    """A mean with its t interval."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    m = float(np.mean(values))
    if n < 2 or float(np.std(values)) == 0.0:
        return Estimate(m, m, m, n)
    low, high = stats.t.interval(1 - alpha, n - 1, loc=m, scale=float(stats.sem(values)))
    return Estimate(m, float(low), float(high), n)


def compare_proportions(x1: int, n1: int, x0: int, n0: int,
                        alpha: float = 0.05) -> Comparison:
    """Two-proportion z test of variant (``x1/n1``) against control (``x0/n0``).

    The p-value uses the pooled standard error (the null hypothesis: one common rate); the
    interval of the difference uses the unpooled one (Wald), as is usual.
    """
    if n1 == 0 or n0 == 0:
        return Comparison(math.nan, math.nan, math.nan, None, math.nan, Z_TEST)
    p1, p0 = x1 / n1, x0 / n0
    diff = p1 - p0
    pooled = (x1 + x0) / (n1 + n0)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    p_value = 1.0 if se0 == 0 else float(2 * stats.norm.sf(abs(diff) / se0))
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = float(stats.norm.ppf(1 - alpha / 2))
    return Comparison(diff, diff - z * se, diff + z * se, diff / p0 if p0 > 0 else None,
                      p_value, Z_TEST)


def compare_means(variant: np.ndarray, control: np.ndarray,
                  alpha: float = 0.05) -> Comparison:
    """Welch's t test (unequal variances) of the variant's mean against the control's."""
    if len(variant) < 2 or len(control) < 2:
        return Comparison(math.nan, math.nan, math.nan, None, math.nan, WELCH)
    m1, m0 = float(np.mean(variant)), float(np.mean(control))
    diff = m1 - m0
    if float(np.var(variant)) == 0.0 and float(np.var(control)) == 0.0:
        return Comparison(diff, diff, diff, diff / m0 if m0 else None,
                          1.0 if diff == 0 else 0.0, WELCH)
    result = stats.ttest_ind(variant, control, equal_var=False)
    ci = result.confidence_interval(1 - alpha)
    return Comparison(diff, float(ci.low), float(ci.high), diff / m0 if m0 else None,
                      float(result.pvalue), WELCH)


def sample_ratio(observed: Sequence[int], shares: Sequence[float]) -> float:
    """p-value of the chi-square test that customers split by the configured shares (a very
    small value, below 0.001, means assignment or logging is broken: sample-ratio mismatch)."""
    total = sum(observed)
    if total == 0 or len(observed) < 2:
        return 1.0
    expected = [total * s / sum(shares) for s in shares]
    return float(stats.chisquare(list(observed), expected).pvalue)


def needed_for_proportion(rate: float, relative_mde: float, alpha: float = 0.05,
                          power: float = 0.8) -> int | None:
    """Customers per variant to detect a relative change ``relative_mde`` of ``rate`` with a
    two-sided z test (None when the rate gives no basis: 0, 1 or unknown)."""
    if not 0.0 < rate < 1.0:
        return None
    other = min(rate * (1 + relative_mde), 1 - 1e-9)
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    bar = (rate + other) / 2
    top = za * math.sqrt(2 * bar * (1 - bar)) + zb * math.sqrt(
        rate * (1 - rate) + other * (1 - other))
    return math.ceil(top ** 2 / (other - rate) ** 2)


def needed_for_mean(mean_value: float, sd: float, relative_mde: float, alpha: float = 0.05,
                    power: float = 0.8) -> int | None:
    """Customers per variant to detect a relative change of a mean (normal approximation)."""
    delta = abs(mean_value) * relative_mde
    if delta == 0 or not math.isfinite(sd) or sd == 0:
        return None
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    return math.ceil(2 * (za + zb) ** 2 * sd ** 2 / delta ** 2)
