"""Popularity: global, per segment (any customer field), and trending with time decay."""

from __future__ import annotations

import logging
from typing import Self

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import ModelConfig, Recommender, Weighting, training_matrix
from tailorcrm.recommend.reasons import Reason

log = logging.getLogger(__name__)


class PopularityConfig(ModelConfig):
    """Hyper-parameters of :class:`Popularity`.

    ``segment_field`` names a customer column (built-in or custom); each customer then gets
    their segment's popularity, shrunk towards the global one by ``shrinkage`` pseudo
    customers. ``half_life_days`` > 0 makes it trending: an event ``d`` days before the
    latest one weighs ``0.5 ** (d / half_life_days)``.
    """

    segment_field: str | None = None
    half_life_days: float = Field(0.0, ge=0)
    shrinkage: float = Field(10.0, ge=0)
    weighting: Weighting = "catalog"


class Popularity(Recommender):
    """Scores every item by how many (decayed, weighted) customers chose it.

    Popularity is non-personalized, so it scores every customer, including cold and
    consent-denied ones (whose segment, if any, still comes from their own fields).
    """

    name = "popularity"
    scores_cold_items = True
    config_class = PopularityConfig
    config: PopularityConfig

    def fit(self, data: Dataset) -> Self:
        cfg = self.config
        X = training_matrix(data, cfg.weighting)
        if cfg.half_life_days > 0 and len(data.events):
            X = self._decayed(data, X.shape)
        X.data = np.maximum(X.data, 0.0)
        counts = np.asarray(X.sum(axis=0)).ravel()
        total = counts.sum()
        self.global_ = counts / total if total > 0 else counts
        self.segment_of_ = np.full(X.shape[0], -1, dtype=np.int64)
        self.segment_scores_ = np.zeros((0, X.shape[1]))
        self.segment_names_: list[str] = []
        if cfg.segment_field is not None and cfg.segment_field in data.customers:
            self._fit_segments(data, X)
        self.history_ = X
        self.n_customers_, self.n_items_ = X.shape
        return self

    def _decayed(self, data: Dataset, shape: tuple[int, int]) -> sparse.csr_matrix:
        """The preference matrix with each event decayed by its age."""
        ev = data.events[data.events["item_id"].notna()]
        age = (ev["ts"].max() - ev["ts"]).dt.total_seconds().to_numpy() / 86400.0
        decay = 0.5 ** (age / self.config.half_life_days)
        rows = data.customer_vocab.index(ev["customer_id"])
        cols = data.item_vocab.index(ev["item_id"])
        allowed = data.personalizable_customers()
        ok = (rows >= 0) & (cols >= 0)
        ok[ok] &= allowed[rows[ok]]
        weights = data.event_weights(ev) * decay
        return sparse.csr_matrix((weights[ok], (rows[ok], cols[ok])), shape=shape)

    def _fit_segments(self, data: Dataset, X: sparse.csr_matrix) -> None:
        field = self.config.segment_field
        values = data.customers[field].astype(str).where(data.customers[field].notna())
        codes, names = pd.factorize(values.reindex(data.customer_vocab.ids))
        self.segment_of_ = np.asarray(codes, dtype=np.int64)
        self.segment_names_ = [str(n) for n in names]
        rows = []
        for s in range(len(names)):
            members = np.flatnonzero(self.segment_of_ == s)
            counts = np.asarray(X[members].sum(axis=0)).ravel()
            # Shrink towards the global shares with ``shrinkage`` average pseudo customers.
            per_customer = counts.sum() / max(len(members), 1)
            mixed = counts + self.config.shrinkage * per_customer * self.global_
            rows.append(mixed / mixed.sum() if mixed.sum() > 0 else self.global_)
        self.segment_scores_ = np.vstack(rows) if rows else np.zeros((0, X.shape[1]))

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        out = np.tile(self.global_, (len(customer_idx), 1))
        known = (customer_idx >= 0) & (customer_idx < self.n_customers_)
        seg = np.full(len(customer_idx), -1)
        seg[known] = self.segment_of_[customer_idx[known]]
        has = seg >= 0
        out[has] = self.segment_scores_[seg[has]]
        return out

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        return np.tile(self.global_, (len(histories), 1))

    def _scores_from_histories(self, histories: np.ndarray) -> np.ndarray:
        return self._scores_from_history(histories)

    def segment_of(self, customer_idx: int) -> str | None:
        """The segment name of a customer, None when not segmented."""
        if not 0 <= customer_idx < len(self.segment_of_) or self.segment_of_[customer_idx] < 0:
            return None
        return self.segment_names_[int(self.segment_of_[customer_idx])]

    def explain(self, customer_idx: int, item_idx: int) -> list[Reason]:
        self._check_fitted()
        segment = self.segment_of(customer_idx)
        if segment is not None:
            label = f"popular in your segment ({self.config.segment_field}: {segment})"
            return [Reason("popular", label, 1.0, f"{self.config.segment_field}={segment}")]
        label = "trending now" if self.config.half_life_days > 0 else "popular with all customers"
        return [Reason("popular", label, 1.0, "global")]

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        return self.explain(-1, item_idx)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**super()._get_state(), "global_": self.global_,
                "segment_of_": self.segment_of_, "segment_scores_": self.segment_scores_,
                "segment_names_": np.asarray(self.segment_names_, dtype=np.str_)}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(arrays)
        self.global_ = arrays["global_"]
        self.segment_of_ = arrays["segment_of_"]
        self.segment_scores_ = arrays["segment_scores_"]
        self.segment_names_ = [str(x) for x in arrays["segment_names_"]]
