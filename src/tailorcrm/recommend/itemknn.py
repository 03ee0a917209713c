"""Item-kNN: items scored by their similarity to the customer's history (cosine or BM25)."""

from __future__ import annotations

import logging
import warnings
from typing import Literal, Self

import numpy as np
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
from implicit.utils import ParameterWarning
from pydantic import Field
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import (
    ModelConfig,
    Recommender,
    Weighting,
    pack_sparse,
    training_matrix,
    unpack_sparse,
)
from tailorcrm.recommend.reasons import Reason, explain_from_history, history_reasons

log = logging.getLogger(__name__)


class ItemKNNConfig(ModelConfig):
    """Hyper-parameters of :class:`ItemKNN`.

    ``k`` neighbours are kept per item; ``bm25_k1`` / ``bm25_b`` shape the BM25 weighting;
    ``pop_beta`` > 0 divides each target item's similarities by ``popularity ** pop_beta``
    (the popularity discount of RP3beta), which favours the long tail.
    """

    similarity: Literal["cosine", "bm25"] = "cosine"
    k: int = Field(100, gt=0)
    bm25_k1: float = Field(1.2, gt=0)
    bm25_b: float = Field(0.75, ge=0, le=1)
    pop_beta: float = Field(0.0, ge=0, le=1)
    weighting: Weighting = "catalog"


class ItemKNN(Recommender):
    """Top-``k`` item-item similarities over co-interactions, via ``implicit``'s kNN."""

    name = "itemknn"
    config_class = ItemKNNConfig
    config: ItemKNNConfig

    def fit(self, data: Dataset) -> Self:
        cfg = self.config
        X = training_matrix(data, cfg.weighting)
        knn: CosineRecommender | BM25Recommender
        if cfg.similarity == "bm25":
            knn = BM25Recommender(K=cfg.k, K1=cfg.bm25_k1, B=cfg.bm25_b, num_threads=1)
        else:
            knn = CosineRecommender(K=cfg.k, num_threads=1)
        with warnings.catch_warnings():
            # implicit's own cosine normalisation hands itself a COO matrix and warns about it
            warnings.simplefilter("ignore", ParameterWarning)
            knn.fit(X, show_progress=False)
        sim = sparse.csr_matrix(knn.similarity, dtype=np.float64)
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        if cfg.pop_beta > 0:
            popularity = np.maximum(np.asarray((X > 0).sum(axis=0)).ravel(), 1.0)
            sim = sparse.csr_matrix(sim @ sparse.diags(popularity ** -cfg.pop_beta))
        self.similarity_ = sim
        self._similarity_csc: sparse.csc_matrix | None = None
        self.history_ = X
        self.n_customers_, self.n_items_ = X.shape
        log.debug("item-kNN: %d similarities kept", sim.nnz)
        return self

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        return np.asarray((sparse.csr_matrix(histories) @ self.similarity_).toarray())

    def similar_items(self, item_idx: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` nearest items of one item and their similarities, best first."""
        self._check_fitted()
        row = self.similarity_[item_idx]
        order = np.argsort(-row.data)[:n]
        return row.indices[order], row.data[order]

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        items = np.flatnonzero(history > 0)
        return history_reasons(history[items] * self._similarity_to(item_idx)[items], items)

    def explain_many(self, customer_idx: np.ndarray, item_idx: np.ndarray
                     ) -> list[list[Reason]]:
        self._check_fitted()
        csc = getattr(self, "_similarity_csc", None)
        if csc is None:
            csc = self._similarity_csc = self.similarity_.tocsc()
        return explain_from_history(self.history_, customer_idx, item_idx,
                                    lambda targets: csc[:, targets].toarray())

    def _similarity_to(self, item_idx: int) -> np.ndarray:
        """Column ``item_idx`` of the similarities, dense. A CSR column slice scans every
        stored value; a CSC copy (built once) reads just that column's."""
        csc = getattr(self, "_similarity_csc", None)
        if csc is None:
            csc = self._similarity_csc = self.similarity_.tocsc()
        start, end = csc.indptr[item_idx], csc.indptr[item_idx + 1]
        col = np.zeros(self.similarity_.shape[0])
        col[csc.indices[start:end]] = csc.data[start:end]
        return col

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**super()._get_state(), **pack_sparse("similarity_", self.similarity_)}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(arrays)
        self.similarity_ = unpack_sparse("similarity_", arrays)
        self._similarity_csc = None
