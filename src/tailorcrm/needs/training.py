"""Train and evaluate a need: time-aware split for derived needs, stratified k-fold for labels."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from tailorcrm.errors import InsufficientDataError
from tailorcrm.needs.baseline import Baseline
from tailorcrm.needs.definitions import AnyNeed, LabelNeed
from tailorcrm.needs.grading import Grade, binary_metrics, grade, regression_metrics
from tailorcrm.needs.model import ModelConfig, NeedModel

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """Test figures of a need model and its baseline under one protocol."""

    protocol: str
    model: dict[str, float]
    baseline: dict[str, float]
    baseline_kind: str
    grade: Grade
    algorithms: list[str] = field(default_factory=list)
    cutoffs: dict[str, str] = field(default_factory=dict)
    fit_seconds: float = 0.0
    held_out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None,
                                                                        repr=False)
    """The held-out labels, model and baseline predictions (for the publication gate)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able figures."""
        return {"protocol": self.protocol, "model": self.model, "baseline": self.baseline,
                "baseline_kind": self.baseline_kind, "grade": self.grade.model_dump(),
                "algorithms": self.algorithms, "cutoffs": self.cutoffs,
                "fit_seconds": self.fit_seconds}


def _metrics(need: AnyNeed, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return binary_metrics(y, p) if need.task == "binary" else regression_metrics(y, p)


def fit_and_predict(
    model: NeedModel, train: tuple[pd.DataFrame, pd.Series], test: pd.DataFrame,
) -> tuple[np.ndarray, Baseline, np.ndarray, float]:
    """Fit ``model`` and its baseline on ``train`` (frame, labels); predict ``test``.

    Returns the model's predictions, the fitted baseline, its predictions and the model's
    fit time in seconds.
    """
    frame, y = train
    start = time.perf_counter()
    model.fit_frame(frame, y)
    seconds = time.perf_counter() - start
    X_train = model.builder_.transform(frame)
    base = Baseline(model.need).fit(frame, X_train, model.builder_.sources_,
                                    y.reindex(frame.index).to_numpy(dtype=np.float64))
    X_test = model.builder_.transform(test)
    return model.predict(test), base, base.predict(test, X_test), seconds


def _twin(probe: NeedModel) -> NeedModel:
    """A fresh model sharing the probe's field specs and behaviour categories."""
    model = NeedModel(probe.need, probe.config)
    model.specs_, model.categories_ = probe.specs_, probe.categories_
    return model


def evaluate_need(data: Dataset, need: AnyNeed, config: ModelConfig | None = None, *,
                  folds: int = 5) -> Evaluation:
    """Test the need's model against its baseline.

    Label needs: stratified ``folds``-fold cross-validation over customers (shuffled, seed
    ``config.random_state``). Derived needs: a time-aware split; the test cut-off is the
    latest with a whole horizon of future, the training cut-off one horizon earlier, so
    training labels end where test features end. When the training cut-off has too few
    positives or negatives (too little history), ``folds``-fold CV over the customers at
    the test cut-off instead: still held out, not across time.
    """
    cfg = config or ModelConfig()
    if isinstance(need, LabelNeed):
        return _evaluate_kfold(data, need, cfg, folds)
    test_cut = need.default_cutoff(data)
    train_cut = test_cut - pd.Timedelta(days=need.horizon_days)
    y_test = need.labels(data, test_cut)
    try:
        y_train = need.labels(data, train_cut)
    except InsufficientDataError as exc:  # one horizon of history short: customers held out
        log.info("need %s: no time-aware split (%s); k-fold over customers at %s",
                 need.name, exc.message, test_cut.date())
        return _evaluate_kfold(data, need, cfg, folds, cutoff=test_cut)
    probe = NeedModel(need, cfg)
    f_train = probe.frame(data, y_train.index, train_cut)
    f_test = probe.frame(data, y_test.index, test_cut)
    model = _twin(probe)
    p, base, pb, seconds = fit_and_predict(model, (f_train, y_train), f_test)
    yt = y_test.to_numpy(dtype=np.float64)
    m, b = _metrics(need, yt, p), _metrics(need, yt, pb)
    return Evaluation(protocol=f"time-aware split: train cut-off {train_cut.date()}, test "
                      f"cut-off {test_cut.date()}, horizon {need.horizon_days} days",
                      model=m, baseline=b, baseline_kind=base.describe(), grade=grade(m, b),
                      algorithms=[model.algorithm_],
                      cutoffs={"train": train_cut.isoformat(), "test": test_cut.isoformat()},
                      fit_seconds=seconds, held_out=(yt, p, pb))


def _evaluate_kfold(data: Dataset, need: AnyNeed, cfg: ModelConfig, folds: int, *,
                    cutoff: pd.Timestamp | None = None) -> Evaluation:
    y = need.labels(data, cutoff)
    probe = NeedModel(need, cfg)
    frame = probe.frame(data, y.index, cutoff)
    yv = y.to_numpy(dtype=np.float64)
    p, pb = np.zeros(len(y)), np.zeros(len(y))
    algos, seconds, kind = [], 0.0, ""
    splitter: StratifiedKFold | KFold = (
        StratifiedKFold(folds, shuffle=True, random_state=cfg.random_state)
        if need.task == "binary" else KFold(folds, shuffle=True, random_state=cfg.random_state))
    for tr, te in splitter.split(frame, yv):
        model = _twin(probe)
        p[te], base, pb[te], s = fit_and_predict(
            model, (frame.iloc[tr], y.iloc[tr]), frame.iloc[te])
        algos.append(model.algorithm_)
        seconds += s
        kind = base.describe()
    m, b = _metrics(need, yv, p), _metrics(need, yv, pb)
    at = "" if cutoff is None else (f" at the cut-off {cutoff.date()} (too little history "
                                    "for a time-aware split)")
    return Evaluation(protocol=f"{'stratified ' if need.task == 'binary' else ''}{folds}-fold "
                      f"CV (shuffle, seed {cfg.random_state}){at}",
                      model=m, baseline=b, baseline_kind=kind, grade=grade(m, b),
                      algorithms=algos, fit_seconds=seconds, held_out=(yv, p, pb))


def train_need(data: Dataset, need: AnyNeed, config: ModelConfig | None = None,
               ) -> NeedModel:
    """The model to score with: label needs on every labelled customer, derived needs at
    the latest cut-off with a whole horizon of future."""
    return NeedModel(need, config).fit(data)
