"""y = f(x; θ): a need model choosing logistic, LightGBM or a blend on inner folds."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, mean_squared_error, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold

from tailorcrm.errors import InsufficientDataError, NotFittedError
from tailorcrm.needs.behaviour import top_categories
from tailorcrm.needs.definitions import AnyNeed, LabelNeed
from tailorcrm.needs.features import (
    FeatureBuilder,
    FeatureConfig,
    feature_frame,
    feature_specs,
    reference_time,
)
from tailorcrm.needs.scorers import (
    BlendScorer,
    LightGBMConfig,
    LinearScorer,
    LogisticConfig,
    Task,
    TreeScorer,
    scorer_from_state,
)
from tailorcrm.schema.fields import FieldSpec

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset

log = logging.getLogger(__name__)

Algorithm = Literal["auto", "logistic", "lightgbm", "blend"]


class ModelConfig(BaseModel):
    """How a need model is built: features, candidate learners, selection and calibration."""

    model_config = ConfigDict(extra="forbid")

    algorithm: Algorithm = "auto"
    """``auto`` picks logistic, LightGBM or their blend by out-of-fold Brier score (RMSE for
    amounts) on folds inside the training data."""
    calibration: Literal["sigmoid", "isotonic", "none"] = "sigmoid"
    inner_folds: int = Field(default=5, ge=2)
    random_state: int = 42
    logistic: LogisticConfig = Field(default_factory=LogisticConfig)
    lightgbm: LightGBMConfig = Field(default_factory=LightGBMConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)


def numeric_inputs(builder: FeatureBuilder) -> list[int]:
    """The model-matrix columns that are plain numbers (the ones expanded into splines)."""
    return [i for i, s in enumerate(builder.sources_)
            if s.kind in ("number", "date", "behaviour") and s.value is None]


class Calibrator:
    """Maps raw scores to probabilities: Platt (sigmoid), isotonic, or the plain logistic."""

    def __init__(self, method: Literal["sigmoid", "isotonic", "none"] = "sigmoid") -> None:
        self.method = method
        self.a_, self.b_ = 1.0, 0.0
        self.x_: np.ndarray = np.zeros(0)
        self.y_: np.ndarray = np.zeros(0)

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        if self.method == "sigmoid":
            lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
            self.a_, self.b_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        elif self.method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
            self.x_, self.y_ = iso.X_thresholds_, iso.y_thresholds_
        return self

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.interp(raw, self.x_, self.y_)
        return np.asarray(expit(self.a_ * raw + self.b_), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a_, "b": self.b_,
                "x": self.x_.tolist(), "y": self.y_.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Calibrator:
        out = cls(state["method"])
        out.a_, out.b_ = float(state["a"]), float(state["b"])
        out.x_, out.y_ = np.asarray(state["x"]), np.asarray(state["y"])
        return out


class NeedModel:
    """A fitted predictor of one need: features → raw score → calibrated probability.

    Use :meth:`fit` on a Dataset (labels from the need at a cut-off), or :meth:`fit_frame`
    on a feature frame you built with :meth:`frame`.
    """

    def __init__(self, need: AnyNeed, config: ModelConfig | None = None) -> None:
        self.need = need
        self.config = config or ModelConfig()
        self.specs_: list[FieldSpec] | None = None
        self.categories_: list[str] | None = None
        self.scorer_: LinearScorer | TreeScorer | BlendScorer | None = None

    # -- features -------------------------------------------------------------------------
    def feature_config(self) -> FeatureConfig:
        """The feature config, never reading the need's own label field."""
        cfg = self.config.features
        if isinstance(self.need, LabelNeed):
            cfg = cfg.model_copy(update={"exclude": (*cfg.exclude, self.need.field)})
        return cfg

    def frame(self, data: Dataset, customers: pd.Index,
              cutoff: dt.datetime | pd.Timestamp | None) -> pd.DataFrame:
        """Raw features of ``customers`` at ``cutoff`` (specs and categories fixed at first use)."""
        cfg = self.feature_config()
        if self.specs_ is None:
            self.specs_ = feature_specs(data, cfg)
        if self.categories_ is None and cfg.behaviour is not None and len(data.events):
            ref = reference_time(data, cutoff)
            ev = data.events[(data.events["ts"] < ref)
                             & data.events["type"].isin(list(cfg.behaviour.purchase_types))]
            self.categories_ = top_categories(data, ev, cfg.behaviour.top_categories)
        return feature_frame(data, customers, cutoff, self.specs_, cfg,
                             categories=self.categories_)

    # -- training ---------------------------------------------------------------------------
    def fit(self, data: Dataset, cutoff: dt.datetime | None = None) -> NeedModel:
        """Fit on the need's labels at ``cutoff`` (the latest possible one when None)."""
        y = self.need.labels(data, cutoff)
        when = None if isinstance(self.need, LabelNeed) else self.need.window(data, cutoff)[0]
        return self.fit_frame(self.frame(data, y.index, when), y)

    def fit_frame(self, frame: pd.DataFrame, y: pd.Series) -> NeedModel:
        """Fit on a feature frame and aligned labels."""
        cfg = self.config
        target = y.reindex(frame.index).to_numpy(dtype=np.float64)
        binary = self.need.task == "binary"
        self.builder_ = FeatureBuilder(self.specs_ or [], self.feature_config()).fit(frame)
        X = self.builder_.transform(frame)
        numeric = numeric_inputs(self.builder_)
        task: Task = "binary" if binary else "regression"
        makers: dict[str, Callable[[], LinearScorer | TreeScorer]] = {
            "logistic": lambda: LinearScorer(cfg.logistic, task, random_state=cfg.random_state),
            "lightgbm": lambda: TreeScorer(cfg.lightgbm, task, random_state=cfg.random_state),
        }
        wanted = (["logistic", "lightgbm"] if cfg.algorithm in ("auto", "blend")
                  else [cfg.algorithm])
        need_oof = cfg.algorithm == "auto" or (binary and cfg.calibration != "none")
        oof = self._oof(X, target, numeric, {k: makers[k] for k in wanted}) if need_oof else {}
        if len(wanted) == 2 and oof:
            oof["blend"] = 0.5 * (oof["logistic"] + oof["lightgbm"])
        self.selection_ = {k: self._quality(v, target) for k, v in oof.items()}
        if cfg.algorithm == "auto":
            key = "brier" if binary else "rmse"
            chosen = min(self.selection_, key=lambda k: self.selection_[k][key])
        else:
            chosen = cfg.algorithm
        self.algorithm_ = chosen
        fitted = {k: makers[k]().fit(X, target, numeric)
                  for k in (wanted if chosen == "blend" else [chosen])}
        if chosen == "blend":
            self.scorer_ = BlendScorer([(0.5, fitted["logistic"]), (0.5, fitted["lightgbm"])])
        else:
            self.scorer_ = fitted[chosen]
        method = cfg.calibration if binary else "none"
        self.calibrator_ = Calibrator(method)
        if method != "none":
            self.calibrator_.fit(oof[chosen], target)
        self.train_frame_ = frame
        self.train_target_ = target
        log.info("need %s: fitted %s on %d customers (%d features)", self.need.name, chosen,
                 len(target), X.shape[1])
        return self

    def _oof(self, X: np.ndarray, y: np.ndarray, numeric: list[int],
             makers: dict[str, Callable[[], LinearScorer | TreeScorer]],
             ) -> dict[str, np.ndarray]:
        """Out-of-fold raw scores of each candidate, on folds inside the training data."""
        binary = self.need.task == "binary"
        k = self.config.inner_folds
        if binary:
            k = min(k, int(min((y == 1).sum(), (y == 0).sum())))
            if k < 2:
                raise InsufficientDataError(f"need {self.need.name!r}: too few positives or "
                                            "negatives to validate", need=self.need.name)
            splitter: Any = StratifiedKFold(k, shuffle=True,
                                            random_state=self.config.random_state)
        else:
            splitter = KFold(k, shuffle=True, random_state=self.config.random_state)
        out = {name: np.zeros(len(y)) for name in makers}
        for tr, va in splitter.split(X, y):
            for name, make in makers.items():
                out[name][va] = make().fit(X[tr], y[tr], numeric).raw(X[va])
        return out

    def _quality(self, raw: np.ndarray, y: np.ndarray) -> dict[str, float]:
        if self.need.task != "binary":
            return {"rmse": float(np.sqrt(mean_squared_error(y, raw)))}
        p = Calibrator("sigmoid").fit(raw, y)(raw)
        return {"roc_auc": float(roc_auc_score(y, raw)), "brier": float(brier_score_loss(y, p))}

    # -- prediction -------------------------------------------------------------------------
    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        if self.scorer_ is None:
            raise NotFittedError(f"need model {self.need.name!r} is not fitted")
        return self.builder_.transform(frame)

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's raw score: log-odds for yes/no needs, the amount for spend."""
        assert self.scorer_ is not None
        return self.scorer_.raw(self._matrix(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability (yes/no needs) or predicted amount (spend)."""
        raw = self.raw(frame)
        return self.calibrator_(raw) if self.need.task == "binary" else raw

    def contributions(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        """Per-feature contributions in the raw space and the bias; their row sums + bias
        equal :meth:`raw`."""
        assert self.scorer_ is not None
        contrib, bias = self.scorer_.contributions(self._matrix(frame))
        return (pd.DataFrame(contrib, index=frame.index, columns=self.builder_.names_),
                pd.Series(bias, index=frame.index, name="bias"))

    @property
    def feature_names(self) -> list[str]:
        """Readable names of the model's inputs."""
        return list(self.builder_.names_)

    # -- persistence (JSON + parquet, no pickle) --------------------------------------------
    def state(self) -> dict[str, Any]:
        """JSON-able state; the feature transformer is refit from the stored training frame."""
        assert self.scorer_ is not None
        return {"need": self.need.model_dump(mode="json"),
                "config": self.config.model_dump(mode="json"),
                "specs": [s.model_dump(mode="json") for s in (self.specs_ or [])],
                "categories": self.categories_, "algorithm": self.algorithm_,
                "selection": self.selection_, "scorer": self.scorer_.state(),
                "calibrator": self.calibrator_.state(), "feature_names": self.builder_.names_}

    @classmethod
    def from_state(cls, state: dict[str, Any], train_frame: pd.DataFrame) -> NeedModel:
        """Rebuild a fitted model from :meth:`state` and its training frame."""
        from tailorcrm.needs.definitions import parse_need

        out = cls(parse_need(state["need"]), ModelConfig(**state["config"]))
        out.specs_ = [FieldSpec(**s) for s in state["specs"]]
        out.categories_ = state["categories"]
        out.algorithm_ = state["algorithm"]
        out.selection_ = state["selection"]
        out.builder_ = FeatureBuilder(out.specs_, out.feature_config()).fit(train_frame)
        if out.builder_.names_ != state["feature_names"]:
            raise NotFittedError("stored training frame does not rebuild the same features")
        out.scorer_ = scorer_from_state(state["scorer"])
        out.calibrator_ = Calibrator.from_state(state["calibrator"])
        out.train_frame_ = train_frame
        return out
