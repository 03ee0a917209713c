"""User-kNN: the classic neighbourhood method, items scored by similar customers' choices."""

from __future__ import annotations

from typing import Self

import numpy as np
from pydantic import Field
from scipy import sparse
from sklearn.preprocessing import normalize

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import ModelConfig, Recommender, Weighting, training_matrix
from tailorcrm.recommend.reasons import Reason


class UserKNNConfig(ModelConfig):
    """Hyper-parameters of :class:`UserKNN`: ``k`` neighbours, cosine similarity ** ``power``."""

    k: int = Field(50, gt=0)
    power: float = Field(1.0, gt=0)
    min_similarity: float = Field(0.0, ge=0)
    weighting: Weighting = "catalog"


class UserKNN(Recommender):
    """Scores ``Σ_v sim(u, v) · x_v`` over the ``k`` most similar customers ``v``.

    Similarities are computed at scoring time against the L2-normalised training rows, so a
    customer's updated history (live feedback) finds new neighbours without retraining.
    """

    name = "userknn"
    config_class = UserKNNConfig
    config: UserKNNConfig

    def fit(self, data: Dataset) -> Self:
        X = training_matrix(data, self.config.weighting)
        self.history_ = X
        self.normalized_ = sparse.csr_matrix(normalize(X, norm="l2", axis=1))
        self.n_customers_, self.n_items_ = X.shape
        return self

    def _neighbours(self, histories: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
        """Dense (n × n_customers) weights of each row's top-k neighbours."""
        cfg = self.config
        query = normalize(np.asarray(histories, dtype=np.float64), norm="l2", axis=1)
        sims = np.asarray(self.normalized_ @ query.T).T
        if exclude is not None:
            sims[np.arange(len(exclude)), exclude] = 0.0
        sims[sims < max(cfg.min_similarity, 1e-12)] = 0.0
        k = min(cfg.k, sims.shape[1])
        if k < sims.shape[1]:
            cut = np.partition(sims, -k, axis=1)[:, -k][:, None]
            sims[sims < cut] = 0.0
        return sims ** cfg.power

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        known = (customer_idx >= 0) & (customer_idx < self.n_customers_)
        out = np.full((len(customer_idx), self.n_items_), np.nan)
        rows = customer_idx[known]
        if len(rows):
            histories = self.history_[rows].toarray()
            weights = self._neighbours(histories, exclude=rows)
            scores = np.asarray(self.history_.T @ weights.T).T
            scores[~histories.any(axis=1)] = np.nan
            out[known] = scores
        return out

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        weights = self._neighbours(histories, exclude=None)
        return np.asarray(self.history_.T @ weights.T).T

    def explain(self, customer_idx: int, item_idx: int) -> list[Reason]:
        self._check_fitted()
        if not 0 <= customer_idx < self.n_customers_:
            return []
        weights = self._neighbours(self.history_[customer_idx].toarray(),
                                   exclude=np.asarray([customer_idx]))[0]
        chose = self.history_[:, item_idx].toarray().ravel() > 0
        n = int(((weights > 0) & chose).sum())
        if n == 0:
            return []
        return [Reason("similar_customers", f"{n} similar customers chose it", 1.0, str(n))]

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(arrays)
        self.normalized_ = sparse.csr_matrix(normalize(self.history_, norm="l2", axis=1))
