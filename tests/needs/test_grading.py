"""Grades follow the lift over the baseline; metrics agree with their definitions."""

from __future__ import annotations

import numpy as np

from tailorcrm.needs.grading import binary_metrics, grade, regression_metrics


def _m(roc: float, pr: float) -> dict[str, float]:
    return {"roc_auc": roc, "pr_auc": pr}


def test_letters_by_lift_over_the_baseline() -> None:
    assert grade(_m(0.80, 0.55), _m(0.70, 0.50)).letter == "A"  # +10%
    assert grade(_m(0.80, 0.54), _m(0.70, 0.50)).letter == "B"  # +8%
    assert grade(_m(0.65, 0.60), _m(0.60, 0.50)).letter == "B"  # big lift, weak ROC-AUC
    assert grade(_m(0.80, 0.49), _m(0.70, 0.50)).letter == "C"  # below the baseline
    spend = grade({"rmse": 90.0}, {"rmse": 100.0})
    assert spend.letter == "A" and abs(spend.lift - 0.10) < 1e-12
    assert grade({"rmse": 101.0}, {"rmse": 100.0}).letter == "C"


def test_metrics_of_perfect_and_constant_scores() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(float)
    perfect = binary_metrics(y, y)
    assert perfect["roc_auc"] == 1.0 and perfect["brier"] < 1e-12
    prior = binary_metrics(y, np.full(500, y.mean()))
    assert prior["roc_auc"] == 0.5
    assert abs(prior["brier"] - y.mean() * (1 - y.mean())) < 1e-12
    r = regression_metrics(y, np.full(500, y.mean()))
    assert abs(r["r2"]) < 1e-12
