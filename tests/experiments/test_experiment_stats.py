"""The hand-written formulas agree with SciPy and textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from tailorcrm.experiments import stats


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 10), (10, 10), (150, 1000)])
def test_wilson_interval_matches_scipy(x: int, n: int) -> None:
    mine = stats.proportion(x, n)
    ref = sp.binomtest(x, n).proportion_ci(0.95, method="wilson")
    assert mine.low == pytest.approx(ref.low, abs=1e-12)
    assert mine.high == pytest.approx(ref.high, abs=1e-12)


def test_two_proportion_z_test_matches_the_textbook() -> None:
    cmp = stats.compare_proportions(120, 1000, 100, 1000)
    pooled = 220 / 2000
    z = 0.02 / math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert cmp.p_value == pytest.approx(2 * sp.norm.sf(z))
    assert cmp.low < 0.02 < cmp.high and cmp.relative == pytest.approx(0.2)


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(10, 1, 200), rng.normal(10.5, 3, 150)
    cmp = stats.compare_means(b, a)
    ref = sp.ttest_ind(b, a, equal_var=False)
    assert cmp.p_value == pytest.approx(ref.pvalue) and cmp.low < cmp.diff < cmp.high


def test_sample_size_for_a_ten_percent_lift_of_ten_percent() -> None:
    # the usual figure for 10 % -> 11 % at alpha 0.05, power 0.8: about 14,750 per arm
    needed = stats.needed_for_proportion(0.10, 0.10)
    assert needed is not None and 14_000 < needed < 15_500
    assert stats.needed_for_proportion(0.0, 0.1) is None
