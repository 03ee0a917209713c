"""Implicit-feedback matrix factorization: ALS from the ``implicit`` library, with fold-in."""

from __future__ import annotations

import logging
from typing import Self

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from pydantic import Field
from scipy import sparse
from threadpoolctl import threadpool_limits

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import ModelConfig, Recommender, Weighting, training_matrix

log = logging.getLogger(__name__)


class ALSConfig(ModelConfig):
    """Hyper-parameters of :class:`ALS` (``implicit``'s names; ``alpha`` scales confidence)."""

    factors: int = Field(64, gt=0)
    regularization: float = Field(0.05, ge=0)
    alpha: float = Field(1.0, gt=0)
    iterations: int = Field(15, gt=0)
    weighting: Weighting = "catalog"
    random_state: int | None = 42
    num_threads: int = Field(1, ge=0)


class ALS(Recommender):
    """Hu, Koren & Volinsky's implicit ALS, trained by ``implicit`` (CPU backend).

    Scores are dot products of customer and item factors. A customer's updated history is
    folded in with ``implicit``'s ``recalculate_user`` (one least-squares solve), so live
    feedback needs no retraining.
    """

    name = "als"
    config_class = ALSConfig
    config: ALSConfig

    def fit(self, data: Dataset) -> Self:
        X = training_matrix(data, self.config.weighting)
        # implicit warns when BLAS runs threaded; keep BLAS single-threaded while it works.
        with threadpool_limits(1, "blas"):
            model = self._new_model()
            model.fit(X, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        self.history_ = X
        self.n_customers_, self.n_items_ = X.shape
        self._model = model
        return self

    def _new_model(self) -> AlternatingLeastSquares:
        cfg = self.config
        return AlternatingLeastSquares(
            factors=cfg.factors, regularization=cfg.regularization, alpha=cfg.alpha,
            iterations=cfg.iterations, random_state=cfg.random_state,
            num_threads=cfg.num_threads)

    def _implicit_model(self) -> AlternatingLeastSquares:
        """The ``implicit`` model (rebuilt from the factors after a load)."""
        model: AlternatingLeastSquares | None = getattr(self, "_model", None)
        if model is None:
            with threadpool_limits(1, "blas"):
                model = self._new_model()
            model.user_factors = self.user_factors_
            model.item_factors = self.item_factors_
            self._model = model
        return model

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        known = (customer_idx >= 0) & (customer_idx < self.n_customers_)
        out = np.full((len(customer_idx), self.n_items_), np.nan)
        if known.any():
            rows = customer_idx[known]
            # float64 products: a customer's scores then equal their row of a batch's to
            # rounding (float32 matrix-vector and matrix-matrix products differ by ~1e-7)
            scores = self.user_factors_[rows].astype(np.float64) \
                @ self.item_factors_.T.astype(np.float64)
            has_history = np.diff(self.history_.indptr)[rows] > 0
            scores[~has_history] = np.nan
            out[known] = scores
        return out

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        user_items = sparse.csr_matrix(histories, dtype=np.float32)
        ids = np.arange(user_items.shape[0])
        model = self._implicit_model()
        with threadpool_limits(1, "blas"):
            factors = model.recalculate_user(ids, user_items)
        return np.asarray(np.atleast_2d(factors) @ self.item_factors_.T, dtype=np.float64)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**super()._get_state(), "user_factors_": self.user_factors_,
                "item_factors_": self.item_factors_}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(arrays)
        self.user_factors_ = arrays["user_factors_"]
        self.item_factors_ = arrays["item_factors_"]
