"""Metrics and the A/B/C grade of a need model by its lift over the baseline.

Following Dynamics 365 Customer Insights, a model is graded on test data against a simple
baseline rather than by an absolute score. Our rule, for yes/no needs, uses PR-AUC (how well
the model finds the customers who have the need) and ROC-AUC:

- **A**: PR-AUC at least 10% above the baseline's and ROC-AUC ≥ 0.70;
- **B**: PR-AUC at or above the baseline's and ROC-AUC ≥ 0.60;
- **C**: anything else (the baseline does as well: use it, or add data).

For amounts (spend) the lift is the RMSE reduction: A ≥ 5%, B ≥ 0%, C below the baseline.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    roc_auc_score,
)


class Grade(BaseModel):
    """The letter grade with the figures behind it."""

    model_config = ConfigDict(extra="forbid")

    letter: Literal["A", "B", "C"]
    metric: str
    model: float
    baseline: float
    lift: float
    explanation: str


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier score, log loss, positive rate and count."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    one_class = len(np.unique(y)) < 2
    return {
        "roc_auc": float("nan") if one_class else float(roc_auc_score(y, p)),
        "pr_auc": float("nan") if one_class else float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "positive_rate": float(np.mean(y)),
        "n": float(len(y)),
    }


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE, R² and count."""
    var = float(np.var(y))
    mse = float(mean_squared_error(y, pred))
    return {"rmse": float(np.sqrt(mse)), "mae": float(mean_absolute_error(y, pred)),
            "r2": float(1.0 - mse / var) if var > 0 else float("nan"), "n": float(len(y))}


def grade(model: dict[str, float], baseline: dict[str, float]) -> Grade:
    """The grade of a model's test metrics against the baseline's."""
    if "rmse" in model:
        lift = 1.0 - model["rmse"] / baseline["rmse"] if baseline["rmse"] > 0 else 0.0
        letter: Literal["A", "B", "C"] = "A" if lift >= 0.05 else "B" if lift >= 0 else "C"
        return Grade(letter=letter, metric="rmse", model=model["rmse"],
                     baseline=baseline["rmse"], lift=lift,
                     explanation=f"RMSE {lift:+.0%} vs the baseline")
    base = max(baseline["pr_auc"], 1e-9)
    lift = model["pr_auc"] / base - 1.0
    auc = model["roc_auc"]
    if lift >= 0.10 and auc >= 0.70:
        letter = "A"
    elif lift >= 0.0 and auc >= 0.60:
        letter = "B"
    else:
        letter = "C"
    return Grade(letter=letter, metric="pr_auc", model=model["pr_auc"],
                 baseline=baseline["pr_auc"], lift=lift,
                 explanation=f"PR-AUC {lift:+.0%} vs the baseline, ROC-AUC {auc:.3f}")
