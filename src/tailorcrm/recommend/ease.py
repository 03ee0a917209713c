"""EASE: a closed-form item-item linear autoencoder (Steck 2019), with the dropout variant."""

from __future__ import annotations

import logging
from typing import Literal, Self

import numpy as np
from pydantic import Field

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.recommend.base import ModelConfig, Recommender, Weighting, training_matrix
from tailorcrm.recommend.ease_solve import dense_gram, ease_weights
from tailorcrm.recommend.reasons import Reason, explain_from_history, history_reasons

log = logging.getLogger(__name__)

#: Largest float64 copy of the weights kept for scoring (bytes): 5,000 items' worth.
FLOAT64_BYTES = 200_000_000


class EASEConfig(ModelConfig):
    """Hyper-parameters of :class:`EASE`.

    ``dropout`` > 0 adds the emphasised-denoising penalty of Steck, "Autoencoders that don't
    overfit towards the identity" (NeurIPS 2020): item ``i`` is regularised by
    ``lam + dropout / (1 - dropout) * G_ii``, which penalises popular items' weights more.
    ``zero_diagonal=False`` then gives DLAE (no self-similarity constraint).
    ``side="customer"`` solves the same model over customers instead of items (customer ×
    customer weights, a closed-form user-kNN): it scores only customers seen in training,
    and ``max_items`` then bounds the number of customers. ``num_threads`` caps the BLAS
    threads of the inverse (0: the library's default, all cores); one by default, since a
    training job shares the machine with serving and the hybrid's other parts.
    """

    lam: float = Field(500.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    zero_diagonal: bool = True
    weighting: Weighting = "binary"
    side: Literal["item", "customer"] = "item"
    max_items: int = Field(20_000, gt=0)
    num_threads: int = Field(1, ge=0)


class EASE(Recommender):
    """Item-item weights ``B`` from one regularised inverse of the Gram matrix.

    Written by hand: neither scikit-learn nor implicit ships EASE, and it is a few lines of
    NumPy/SciPy around one Cholesky-based inverse (``ease_solve``: a float32 Gram matrix
    turned into the weights in its own memory). Memory is ``n_items²`` float32, so a
    catalog over ``max_items`` is refused with a clear error instead of swapping.
    """

    name = "ease"
    config_class = EASEConfig
    config: EASEConfig

    def fit(self, data: Dataset) -> Self:
        cfg = self.config
        size = data.n_items if cfg.side == "item" else data.n_customers
        if size > cfg.max_items:
            raise InsufficientDataError(
                f"EASE needs an n² matrix; {size} {cfg.side}s exceed max_items="
                f"{cfg.max_items} (raise it if memory allows, or use itemknn/als)",
                n=size, max_items=cfg.max_items)
        X = training_matrix(data, cfg.weighting)
        gram = dense_gram(X if cfg.side == "item" else X.T)
        penalty = cfg.lam + cfg.dropout / (1.0 - cfg.dropout) * np.diag(gram).astype(np.float64)
        self.weights_ = ease_weights(gram, penalty, zero_diagonal=cfg.zero_diagonal,
                                     threads=cfg.num_threads or None)
        self._weights64: np.ndarray | None = None
        self.history_ = X
        self.n_customers_, self.n_items_ = X.shape
        log.debug("EASE fitted on %d × %d (nnz=%d)", *X.shape, X.nnz)
        return self

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        if self.config.side == "item":
            return super()._score_rows(customer_idx)
        out = np.full((len(customer_idx), self.n_items_), np.nan)
        known = (customer_idx >= 0) & (customer_idx < self.n_customers_)
        rows = customer_idx[known]
        scores = np.asarray((self.history_.T @ self.weights_[:, rows]).T, dtype=np.float64)
        scores[np.diff(self.history_.indptr)[rows] == 0] = np.nan
        out[known] = scores
        return out

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        if self.config.side == "customer":  # a new history has no weights without a refit
            return np.full(histories.shape, np.nan)
        return np.asarray(histories @ self._scoring_weights(), dtype=np.float64)

    def _scoring_weights(self) -> np.ndarray:
        """The weights scores multiply by: a float64 copy (kept) while it fits
        :data:`FLOAT64_BYTES`, so one customer's scores equal their row of a batch's to
        rounding (float32 products differ between a matrix-vector and a matrix-matrix
        product by about 1e-7); the stored float32 weights beyond that."""
        cached: np.ndarray | None = getattr(self, "_weights64", None)
        if cached is None:
            if self.weights_.size * 8 > FLOAT64_BYTES:
                return self.weights_
            cached = self._weights64 = self.weights_.astype(np.float64)
        return cached

    def explain_history(self, history: np.ndarray, item_idx: int) -> list[Reason]:
        if self.config.side == "customer":
            return []
        items = np.flatnonzero(history > 0)
        return history_reasons(history[items] * self.weights_[items, item_idx], items)

    def explain_many(self, customer_idx: np.ndarray, item_idx: np.ndarray
                     ) -> list[list[Reason]]:
        self._check_fitted()
        if self.config.side == "customer":
            return [[] for _ in range(np.asarray(customer_idx).size)]
        weights = self.weights_
        return explain_from_history(self.history_, customer_idx, item_idx,
                                    lambda targets: weights[:, targets])

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**super()._get_state(), "weights_": self.weights_}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_state(arrays)
        self.weights_ = arrays["weights_"]
        self._weights64 = None
