"""The publication gate: a need model is published only if it beats its baseline held out.

The evaluation (:func:`tailorcrm.needs.training.evaluate_need`) predicts customers the model
never saw: the test cut-off of the time-aware split for derived needs, the out-of-fold
predictions of k-fold CV for label needs. On those predictions the gate asks two things:

1. the grade is not C (the model's PR-AUC is at least the baseline's and its ROC-AUC at
   least 0.60; for amounts, its RMSE at most the baseline's), and
2. the model is better than the baseline beyond chance: the paired bootstrap (``bootstrap``
   resamples of the held-out customers) puts the gain in ROC-AUC (yes/no needs) or the
   relative reduction in squared error (amounts) above ``min_gain`` with probability
   ``confidence``, i.e. the ``1 - confidence`` quantile of the resampled gains exceeds
   ``min_gain``.

A model that fails is not published: the last model that passed keeps its scores, or, when
there is none, the baseline's scores are published and marked as the baseline's.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import roc_auc_score

from tailorcrm.needs.training import Evaluation


class GateConfig(BaseModel):
    """How much better than its baseline a need model must be to be published."""

    model_config = ConfigDict(extra="forbid")

    min_gain: float = Field(default=0.0, ge=0.0)
    """The gain (ROC-AUC points, or the relative MSE reduction) the bound must exceed."""
    confidence: float = Field(default=0.9, gt=0.5, lt=1.0)
    bootstrap: int = Field(default=200, ge=20)
    random_state: int = 0


class GateDecision(BaseModel):
    """Whether the model passed, with the figures and the sentence that say why."""

    model_config = ConfigDict(extra="forbid")

    passed: bool
    metric: str
    gain: float
    lower_bound: float
    grade: str
    reason: str


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else 0.5


def _gains(y: np.ndarray, p: np.ndarray, pb: np.ndarray, binary: bool,
           idx: np.ndarray | None = None) -> float:
    if idx is not None:
        y, p, pb = y[idx], p[idx], pb[idx]
    if binary:
        return _auc(y, p) - _auc(y, pb)
    base = float(np.mean((y - pb) ** 2))
    return 1.0 - float(np.mean((y - p) ** 2)) / base if base > 0 else 0.0


def decide(evaluation: Evaluation, config: GateConfig | None = None) -> GateDecision:
    """The gate's decision on an evaluation that kept its held-out predictions."""
    cfg = config or GateConfig()
    letter = evaluation.grade.letter
    if evaluation.held_out is None:
        return GateDecision(passed=False, metric="", gain=0.0, lower_bound=0.0, grade=letter,
                            reason="no held-out predictions to compare with the baseline")
    y, p, pb = (np.asarray(a, dtype=np.float64) for a in evaluation.held_out)
    binary = "roc_auc" in evaluation.model
    metric = "roc_auc" if binary else "mse_reduction"
    gain = _gains(y, p, pb, binary)
    rng = np.random.default_rng(cfg.random_state)
    draws = np.array([_gains(y, p, pb, binary, rng.integers(0, len(y), len(y)))
                      for _ in range(cfg.bootstrap)])
    lower = float(np.quantile(draws, 1.0 - cfg.confidence))
    what = "ROC-AUC" if binary else "squared error"
    if letter == "C":
        passed, why = False, f"grade C ({evaluation.grade.explanation})"
    elif lower <= cfg.min_gain:
        passed = False
        why = (f"{what} gain {gain:+.3f} over the baseline is within chance "
               f"({cfg.confidence:.0%} bound {lower:+.3f})")
    else:
        passed = True
        why = (f"beats the baseline: {what} gain {gain:+.3f} "
               f"({cfg.confidence:.0%} bound {lower:+.3f}), grade {letter}")
    return GateDecision(passed=passed, metric=metric, gain=gain, lower_bound=lower,
                        grade=letter, reason=why)
