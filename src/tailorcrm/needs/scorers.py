"""The two learners behind need models, each with exact additive contributions and no pickle."""

from __future__ import annotations

from typing import Any, Literal

import lightgbm as lgb
import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import SplineTransformer

Task = Literal["binary", "regression"]


class LogisticConfig(BaseModel):
    """Logistic (or ridge, for amounts) regression, with cubic splines on numeric inputs."""

    model_config = ConfigDict(extra="forbid")

    C: float = Field(default=1.0, gt=0.0)
    splines: bool = True
    n_knots: int = Field(default=5, ge=2)
    degree: int = Field(default=3, ge=1)
    max_iter: int = 3000


class LightGBMConfig(BaseModel):
    """Gradient-boosted trees; small, regularized defaults suited to CRM-sized data."""

    model_config = ConfigDict(extra="forbid")

    n_estimators: int = Field(default=300, ge=1)
    learning_rate: float = Field(default=0.02, gt=0.0)
    num_leaves: int = Field(default=8, ge=2)
    min_child_samples: int = Field(default=40, ge=1)
    subsample: float = Field(default=0.8, gt=0.0, le=1.0)
    colsample_bytree: float = Field(default=0.7, gt=0.0, le=1.0)
    reg_lambda: float = Field(default=1.0, ge=0.0)
    n_jobs: int = 1


class LinearScorer:
    """Linear model on the feature matrix, numeric columns expanded into B-splines.

    Contributions are ``coef · (z - mean_z)`` summed back onto each input column, and the
    bias is ``intercept + coef · mean_z``, so contributions + bias equal the raw score
    (log-odds for a binary task) exactly. The spline expansion is rebuilt from stored
    column ranges (uniform knots), so the state is plain arrays.
    """

    def __init__(self, config: LogisticConfig, task: Task, *, random_state: int = 42) -> None:
        self.config = config
        self.task = task
        self.random_state = random_state

    def _expand(self, X: np.ndarray) -> np.ndarray:
        blocks, groups = [], []
        for j in range(X.shape[1]):
            bounds = self.ranges_[j]
            if bounds is None:
                blocks.append(X[:, [j]])
                groups.append(j)
                continue
            lo, hi = bounds
            knots = np.linspace(lo, hi, self.config.n_knots).reshape(-1, 1)
            spl = SplineTransformer(knots=knots, degree=self.config.degree,
                                    extrapolation="linear", include_bias=False)
            basis = spl.fit(np.array([[lo], [hi]])).transform(X[:, [j]])
            blocks.append(basis)
            groups.extend([j] * basis.shape[1])
        self.groups_ = np.asarray(groups, dtype=np.int64)
        return np.hstack(blocks) if blocks else np.zeros((X.shape[0], 0))

    def prepare(self, X: np.ndarray, numeric: list[int]) -> np.ndarray:
        """Fix the spline ranges of the ``numeric`` columns from ``X``; the expanded matrix.

        :meth:`fit` starts with it; a distributed fit (``spark/needs.py``) calls it on a
        sample, expands every row with :meth:`_expand` and solves for the coefficients
        itself."""
        self.n_features_ = X.shape[1]
        self.ranges_: list[tuple[float, float] | None] = [None] * X.shape[1]
        if self.config.splines:
            for j in numeric:
                lo, hi = float(X[:, j].min()), float(X[:, j].max())
                if hi > lo and len(np.unique(X[:, j])) > self.config.n_knots:
                    self.ranges_[j] = (lo, hi)
        return self._expand(X)

    def fit(self, X: np.ndarray, y: np.ndarray, numeric: list[int]) -> LinearScorer:
        """Fit on ``X`` (n × p); ``numeric`` are the columns to expand into splines."""
        Z = self.prepare(X, numeric)
        if self.task == "binary":
            est: Any = LogisticRegression(C=self.config.C, max_iter=self.config.max_iter)
        else:
            est = Ridge(alpha=1.0 / self.config.C)
        est.fit(Z, y)
        self.coef_ = np.ravel(est.coef_).astype(np.float64)
        self.intercept_ = float(np.ravel(est.intercept_)[0])
        self.z_mean_ = Z.mean(axis=0)
        return self

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The raw score (log-odds, or the amount)."""
        return np.asarray(self._expand(X) @ self.coef_ + self.intercept_, dtype=np.float64)

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-column contributions (n × p) and the bias (n), summing to :meth:`raw`."""
        Z = self._expand(X)
        parts = (Z - self.z_mean_) * self.coef_
        out = np.zeros((X.shape[0], self.n_features_))
        np.add.at(out.T, self.groups_, parts.T)
        bias = np.full(X.shape[0], self.intercept_ + float(self.z_mean_ @ self.coef_))
        return out, bias

    def state(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"kind": "linear", "config": self.config.model_dump(), "task": self.task,
                "n_features": self.n_features_, "ranges": self.ranges_,
                "coef": self.coef_.tolist(), "intercept": self.intercept_,
                "z_mean": self.z_mean_.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LinearScorer:
        """Rebuild from :meth:`state`."""
        out = cls(LogisticConfig(**state["config"]), state["task"])
        out.n_features_ = int(state["n_features"])
        out.ranges_ = [None if r is None else (float(r[0]), float(r[1]))
                       for r in state["ranges"]]
        out.coef_ = np.asarray(state["coef"], dtype=np.float64)
        out.intercept_ = float(state["intercept"])
        out.z_mean_ = np.asarray(state["z_mean"], dtype=np.float64)
        return out


class TreeScorer:
    """LightGBM; contributions are its native TreeSHAP values (``pred_contrib=True``)."""

    def __init__(self, config: LightGBMConfig, task: Task, *, random_state: int = 42) -> None:
        self.config = config
        self.task = task
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray, numeric: list[int] | None = None) -> TreeScorer:
        """Fit on ``X`` (n × p); ``numeric`` is accepted for symmetry and unused."""
        params = self.config.model_dump()
        cls = lgb.LGBMClassifier if self.task == "binary" else lgb.LGBMRegressor
        est = cls(subsample_freq=1, random_state=self.random_state, verbose=-1,
                  deterministic=True, force_row_wise=True, **params)
        est.fit(X, y)
        self.booster_: lgb.Booster = est.booster_
        return self

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The raw score (log-odds, or the amount)."""
        return np.asarray(self.booster_.predict(X, raw_score=True), dtype=np.float64)

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """TreeSHAP contributions (n × p) and the bias (n), summing to :meth:`raw`."""
        out = np.asarray(self.booster_.predict(X, pred_contrib=True), dtype=np.float64)
        return out[:, :-1], out[:, -1]

    def state(self) -> dict[str, Any]:
        """JSON-able state (the booster in LightGBM's own text format)."""
        return {"kind": "tree", "config": self.config.model_dump(), "task": self.task,
                "booster": self.booster_.model_to_string()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TreeScorer:
        """Rebuild from :meth:`state`."""
        out = cls(LightGBMConfig(**state["config"]), state["task"])
        out.booster_ = lgb.Booster(model_str=state["booster"])
        return out


Scorer = LinearScorer | TreeScorer


class BlendScorer:
    """A weighted sum of scorers' raw scores; contributions add the same way."""

    def __init__(self, parts: list[tuple[float, Scorer]]) -> None:
        self.parts = parts

    def raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(sum(w * s.raw(X) for w, s in self.parts), dtype=np.float64)

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        contrib = np.zeros((X.shape[0], X.shape[1]))
        bias = np.zeros(X.shape[0])
        for w, s in self.parts:
            c, b = s.contributions(X)
            contrib += w * c
            bias += w * b
        return contrib, bias

    def state(self) -> dict[str, Any]:
        return {"kind": "blend", "parts": [[w, s.state()] for w, s in self.parts]}


def scorer_from_state(state: dict[str, Any]) -> LinearScorer | TreeScorer | BlendScorer:
    """Any scorer from its :meth:`state`."""
    if state["kind"] == "linear":
        return LinearScorer.from_state(state)
    if state["kind"] == "tree":
        return TreeScorer.from_state(state)
    return BlendScorer([(float(w), scorer_from_state(s)) for w, s in state["parts"]])  # type: ignore[misc]
