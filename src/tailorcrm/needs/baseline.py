"""Simple baselines every need model is graded against: recency, RFM, best field, past spend.

- churn: the recency rule (longer since the last purchase, more likely to churn);
- propensity: the RFM score (quintiles of recency, frequency and monetary value, summed);
- spend: the customer's past spend rate carried over the horizon;
- label needs: the single most telling customer field (a one-field logistic regression), or
  the prior rate when there are no fields.

Rule scores are turned into probabilities with a Platt fit on the training data, so the
Brier score of a baseline is meaningful too.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tailorcrm.needs.definitions import AnyNeed, ChurnNeed, LabelNeed, PropensityNeed, SpendNeed
from tailorcrm.needs.features import FeatureSource

BaselineKind = Literal["recency_rule", "rfm_score", "best_field", "prior", "past_spend_rate"]


def _rfm(frame: pd.DataFrame, edges: dict[str, np.ndarray] | None = None,
         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """RFM score 3..15 from quintile bins (edges from training, reused when given)."""
    cols = {"recency_purchase_days": -1.0, "frequency": 1.0, "monetary": 1.0}
    edges = dict(edges or {})
    score = np.zeros(len(frame))
    for col, sign in cols.items():
        x = sign * frame[col].to_numpy(dtype=np.float64)
        if col not in edges:
            edges[col] = np.quantile(x, [0.2, 0.4, 0.6, 0.8])
        score += 1 + np.searchsorted(edges[col], x, side="right")
    return score, edges


class Baseline:
    """A baseline for one need, fitted on the same training frame as the model."""

    def __init__(self, need: AnyNeed) -> None:
        self.need = need
        self.kind: BaselineKind = "prior"
        self.field: str | None = None

    def fit(self, frame: pd.DataFrame, X: np.ndarray, sources: list[FeatureSource],
            y: np.ndarray) -> Baseline:
        """Choose and fit the baseline (``X``/``sources`` are the model's encoded inputs)."""
        has_rfm = {"recency_purchase_days", "frequency", "monetary"} <= set(frame.columns)
        need = self.need
        if isinstance(need, SpendNeed):
            self.kind = "past_spend_rate" if has_rfm else "prior"
            self.mean_ = float(np.mean(y))
            return self
        if isinstance(need, ChurnNeed) and has_rfm:
            self.kind = "recency_rule"
        elif isinstance(need, PropensityNeed) and has_rfm:
            self.kind = "rfm_score"
            self.edges_ = _rfm(frame)[1]
        elif isinstance(need, LabelNeed):
            self._fit_best_field(X, sources, y)
        self.prior_ = float(np.mean(y))
        if self.kind != "prior" and self.kind != "best_field":
            s = self._rule(frame).reshape(-1, 1)
            self.platt_ = LogisticRegression(C=1e6, max_iter=1000).fit(s, y)
        return self

    def _fit_best_field(self, X: np.ndarray, sources: list[FeatureSource],
                        y: np.ndarray) -> None:
        fields = sorted({s.column for s in sources if s.kind != "behaviour"})
        best: tuple[float, str | None] = (0.5, None)
        for name in fields:
            cols = [i for i, s in enumerate(sources) if s.column == name]
            lr = LogisticRegression(max_iter=1000).fit(X[:, cols], y)
            auc = roc_auc_score(y, lr.predict_proba(X[:, cols])[:, 1])
            if auc > best[0]:
                best = (auc, name)
                self.cols_, self.lr_ = cols, lr
        if best[1] is not None:
            self.kind, self.field = "best_field", best[1]

    def _rule(self, frame: pd.DataFrame) -> np.ndarray:
        if self.kind == "recency_rule":
            return np.log1p(frame["recency_purchase_days"].to_numpy(dtype=np.float64))
        return _rfm(frame, self.edges_)[0]

    def predict(self, frame: pd.DataFrame, X: np.ndarray) -> np.ndarray:
        """Probability (yes/no needs) or amount (spend) for each row."""
        if self.kind == "past_spend_rate":
            h = float(self.need.horizon_days)  # type: ignore[union-attr]
            tenure = np.maximum(frame["tenure_days"].to_numpy(dtype=np.float64), h)
            return np.asarray(frame["monetary"].to_numpy(dtype=np.float64) / tenure * h)
        if self.kind == "prior":
            return np.full(len(frame), self.prior_ if self.need.task == "binary" else self.mean_)
        if self.kind == "best_field":
            return np.asarray(self.lr_.predict_proba(X[:, self.cols_])[:, 1])
        s = self._rule(frame).reshape(-1, 1)
        return np.asarray(self.platt_.predict_proba(s)[:, 1])

    def describe(self) -> str:
        """One line for reports."""
        return {"recency_rule": "recency rule (days since the last purchase)",
                "rfm_score": "RFM score (recency, frequency, monetary quintiles)",
                "best_field": f"best single field ({self.field})",
                "prior": "prior rate (the same score for everyone)",
                "past_spend_rate": "past spend rate carried over the horizon"}[self.kind]
