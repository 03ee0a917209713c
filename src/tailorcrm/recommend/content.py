"""Content-based recommender: item feature vectors, customer profiles, and an attribute path."""

from __future__ import annotations

import logging
from typing import Self

import numpy as np
from pydantic import Field
from scipy import sparse
from sklearn.preprocessing import normalize

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import (
    ModelConfig,
    Recommender,
    Weighting,
    pack_sparse,
    training_matrix,
    unpack_sparse,
)
from tailorcrm.recommend.features import customer_features, item_features
from tailorcrm.recommend.reasons import Reason, normalize_weights

log = logging.getLogger(__name__)


class ContentConfig(ModelConfig):
    """Hyper-parameters of :class:`ContentBased`.

    Block weights set how much text, categories and feature fields count in an item vector.
    ``attribute_path`` lets a customer without history be matched by their own fields: a
    ridge map (``ridge_alpha``) learned from customers with history turns customer features
    into an item-feature profile, and a customer value equal to an item value (a preferred
    category ``outdoor`` and the category ``outdoor``) matches directly with
    ``direct_match_weight``.
    """

    max_features: int = Field(2000, gt=0)
    text_weight: float = Field(1.0, ge=0)
    category_weight: float = Field(1.0, ge=0)
    field_weight: float = Field(1.0, ge=0)
    weighting: Weighting = "catalog"
    attribute_path: bool = True
    ridge_alpha: float = Field(1.0, gt=0)
    direct_match_weight: float = Field(1.0, ge=0)


class ContentBased(Recommender):
    """Cosine of a customer profile and item vectors; every item with features is scored."""

    name = "content"
    config_class = ContentConfig
    config: ContentConfig
    scores_cold_items = True

    def fit(self, data: Dataset) -> Self:
        cfg = self.config
        X = training_matrix(data, cfg.weighting)
        items = data.items.reindex(data.item_vocab.ids)
        V, names = item_features(items, data.item_fields, max_features=cfg.max_features,
                                 text_weight=cfg.text_weight,
                                 category_weight=cfg.category_weight,
                                 field_weight=cfg.field_weight)
        self.item_vectors_ = V
        self.feature_names_ = names
        self.history_ = X
        self.n_customers_, self.n_items_ = X.shape
        self.allowed_ = data.personalizable_customers()
        customers = data.customers.reindex(data.customer_vocab.ids)
        C, cnames = customer_features(customers, data.customer_fields)
        self.customer_vectors_ = C
        self.attribute_map_ = np.zeros((C.shape[1], V.shape[1]))
        if cfg.attribute_path and C.shape[1] and V.shape[1]:
            self.attribute_map_ = self._attribute_map(X, V, C, cnames, names)
        return self

    def _attribute_map(self, X: sparse.csr_matrix, V: sparse.csr_matrix, C: sparse.csr_matrix,
                       cnames: list[str], names: list[str]) -> np.ndarray:
        """Customer feature → item feature weights: learned ridge map plus direct matches."""
        cfg = self.config
        learned = np.zeros((C.shape[1], V.shape[1]))
        has = (X.getnnz(axis=1) > 0) & self.allowed_ & (C.getnnz(axis=1) > 0)
        if has.sum() >= 2:
            profiles = normalize(X[has] @ V, norm="l2", axis=1)
            learned = _ridge(C[has], profiles, cfg.ridge_alpha)
        by_value: dict[str, list[int]] = {}
        for j, name in enumerate(names):
            by_value.setdefault(name.split(": ", 1)[-1].lower(), []).append(j)
        for i, cname in enumerate(cnames):
            for j in by_value.get(cname.split(": ", 1)[-1].lower(), []):
                learned[i, j] += cfg.direct_match_weight
        return learned

    def profiles(self, customer_idx: np.ndarray) -> np.ndarray:
        """Item-feature profiles: from history, else (attribute path) from own fields."""
        out = np.zeros((len(customer_idx), self.item_vectors_.shape[1]))
        known = (customer_idx >= 0) & (customer_idx < self.n_customers_)
        rows = customer_idx[known]
        hist = np.asarray((self.history_[rows] @ self.item_vectors_).toarray())
        attrs = np.asarray(self.customer_vectors_[rows] @ self.attribute_map_)
        use_attr = ~np.any(hist != 0, axis=1) & self.allowed_[rows]
        hist[use_attr] = attrs[use_attr]
        out[known] = hist
        return out

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        return self._scores_from_profiles(self.profiles(customer_idx))

    def _scores_from_profiles(self, profiles: np.ndarray) -> np.ndarray:
        if profiles.shape[1] == 0:  # items without any feature: nothing to match on
            return np.full((len(profiles), self.n_items_), np.nan)
        profiles = normalize(profiles, norm="l2", axis=1)
        scores = np.asarray(self.item_vectors_ @ profiles.T).T
        scores[~np.any(profiles != 0, axis=1)] = np.nan
        return scores

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        return self._scores_from_profiles(np.asarray(histories @ self.item_vectors_))

    def explain(self, customer_idx: int, item_idx: int) -> list[Reason]:
        self._check_fitted()
        return self._explain_profile(self.profiles(np.asarray([customer_idx]))[0], item_idx)

    def explain_many(self, customer_idx: np.ndarray, item_idx: np.ndarray
                     ) -> list[list[Reason]]:
        self._check_fitted()
        cs = np.asarray(customer_idx, dtype=np.int64).ravel()
        unique, row = np.unique(cs, return_inverse=True)
        profiles = self.profiles(unique)
        return [self._explain_profile(profiles[r], int(i))
                for r, i in zip(row.ravel(), np.asarray(item_idx).ravel(), strict=True)]

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        return self._explain_profile(np.asarray(history @ self.item_vectors_).ravel(), item_idx)

    def _explain_profile(self, profile: np.ndarray, item_idx: int) -> list[Reason]:
        vectors = sparse.csr_matrix(self.item_vectors_)
        start, end = vectors.indptr[item_idx], vectors.indptr[item_idx + 1]
        features, values = vectors.indices[start:end], vectors.data[start:end]
        contrib = profile[features] * values
        reasons = [Reason("attribute", self.feature_names_[f], float(c), self.feature_names_[f])
                   for f, c in zip(features.tolist(), contrib.tolist(), strict=True) if c > 0]
        return normalize_weights(reasons)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**super()._get_state(), **pack_sparse("item_vectors_", self.item_vectors_),
                **pack_sparse("customer_vectors_", self.customer_vectors_),
                "attribute_map_": self.attribute_map_, "allowed_": self.allowed_,
                "feature_names_": np.asarray(self.feature_names_, dtype=np.str_)}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(arrays)
        self.item_vectors_ = unpack_sparse("item_vectors_", arrays)
        self.customer_vectors_ = unpack_sparse("customer_vectors_", arrays)
        self.attribute_map_ = arrays["attribute_map_"]
        self.allowed_ = arrays["allowed_"].astype(bool)
        self.feature_names_ = [str(x) for x in arrays["feature_names_"]]


def _ridge(C: sparse.csr_matrix, P: sparse.csr_matrix, alpha: float) -> np.ndarray:
    """Ridge weights ``(CᵀC + αI)⁻¹ CᵀP`` for every target column at once.

    By hand because scikit-learn's Ridge on sparse input runs one conjugate-gradient solve
    per target (one per item feature, thousands); the normal equations here are one small
    ``n_customer_features²`` solve whatever the number of targets.
    """
    gram = np.asarray((C.T @ C).toarray())
    gram[np.diag_indices_from(gram)] += alpha
    rhs = np.asarray((C.T @ P).toarray())
    return np.asarray(np.linalg.solve(gram, rhs), dtype=np.float64)
