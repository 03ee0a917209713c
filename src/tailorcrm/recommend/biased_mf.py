"""Biased matrix factorization: an explicit-rating predictor fitted by vectorized ALS."""

from __future__ import annotations

import logging
from typing import Self

import numpy as np
from pydantic import Field
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.recommend.base import ModelConfig, Recommender, pack_sparse, unpack_sparse

log = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 4_000_000  # floats per block of per-row Gram matrices (~32 MB)


class BiasedMFConfig(ModelConfig):
    """Hyper-parameters of :class:`BiasedMF`.

    The defaults were chosen on a validation split (10 % of the training part of the first
    shuffled 5-fold of MovieLens 100K), never on a test fold; see ``docs/evaluation.md``.
    """

    factors: int = Field(50, gt=0)
    reg_bias: float = Field(5.0, ge=0)
    reg_factors: float = Field(15.0, gt=0)
    reg_exponent: float = Field(0.0, ge=0, le=1)
    iterations: int = Field(15, gt=0)
    cg_steps: int = Field(0, ge=0)
    init_std: float = Field(0.1, gt=0)
    event_type: str = "rating"
    random_state: int = 0


class BiasedMF(Recommender):
    """``r̂(u, i) = μ + b_u + b_i + p_u · q_i``, fitted by alternating least squares.

    Each half-step solves every customer's (then every item's) bias and factors jointly in
    closed form, ``(XᵀX + Λ) y = Xᵀ(r − μ − b_other)`` with ``X = [1, Q]``; the per-row Gram
    matrices are built for all rows at once as a sparse product with the items' outer
    products and solved in one batched ``numpy.linalg.solve``. Written by hand because
    neither implicit (implicit feedback only) nor scikit-learn (no missing-value MF) fits
    explicit ratings with biases. Predictions are clipped to the training rating range.

    :meth:`predict` gives a rating for any customer × item pair, falling back to
    ``μ + b_i`` (unknown customer), ``μ + b_u`` (unknown item) or ``μ``; :meth:`score`
    follows the shared contract (NaN for customers without ratings).
    """

    name = "biased_mf"
    config_class = BiasedMFConfig
    config: BiasedMFConfig

    # -- training -------------------------------------------------------------------------
    def fit(self, data: Dataset) -> Self:
        cfg = self.config
        ratings = data.interaction_matrix(weighting="value", types=[cfg.event_type])
        allowed = data.personalizable_customers()
        if not allowed.all():
            ratings = sparse.csr_matrix(sparse.diags(allowed.astype(np.float64)) @ ratings)
        ratings = sparse.csr_matrix(ratings, dtype=np.float64)
        ratings.eliminate_zeros()
        if ratings.nnz == 0:
            raise InsufficientDataError(f"no {cfg.event_type!r} events with a value to fit on")
        self.history_ = ratings
        self.n_customers_, self.n_items_ = ratings.shape
        self.mu_ = float(ratings.data.mean())
        self.range_ = np.array([ratings.data.min(), ratings.data.max()])
        rng = np.random.default_rng(cfg.random_state)
        self.user_factors_ = rng.normal(0, cfg.init_std, (self.n_customers_, cfg.factors))
        self.item_factors_ = rng.normal(0, cfg.init_std, (self.n_items_, cfg.factors))
        self.user_bias_ = np.zeros(self.n_customers_)
        self.item_bias_ = np.zeros(self.n_items_)
        by_item = ratings.T.tocsr()
        for it in range(cfg.iterations):
            self.user_bias_, self.user_factors_ = self._solve(
                ratings, self.item_factors_, self.item_bias_,
                np.hstack([self.user_bias_[:, None], self.user_factors_]))
            self.item_bias_, self.item_factors_ = self._solve(
                by_item, self.user_factors_, self.user_bias_,
                np.hstack([self.item_bias_[:, None], self.item_factors_]))
            log.debug("biased_mf iteration %d/%d done", it + 1, cfg.iterations)
        return self

    def _solve(
        self,
        ratings: sparse.csr_matrix,
        other: np.ndarray,
        other_bias: np.ndarray,
        current: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One ALS half-step: bias and factors of every row of ``ratings``.

        Solves ``(XᵀX + s·Λ) y = Xᵀ(r − μ − b_other)`` per row, exactly (batched Cholesky-free
        ``solve`` of the stacked Gram matrices) or, with ``cg_steps``, by that many batched
        conjugate-gradient steps warm-started at ``current`` (``O(nnz·d)`` per step instead of
        ``O(nnz·d²)`` for the Gram matrices, as implicit's CG solver does for implicit ALS).
        """
        cfg = self.config
        X = np.hstack([np.ones((other.shape[0], 1)), other])
        d = X.shape[1]
        mask = ratings.copy()
        mask.data = np.ones_like(mask.data)
        rhs = np.asarray(ratings @ X - mask @ (X * (self.mu_ + other_bias)[:, None]))
        penalty = np.r_[cfg.reg_bias, np.full(d - 1, cfg.reg_factors)]
        # ALS-WR style: each row's penalty grows with its number of ratings to the power
        # ``reg_exponent`` (0: plain L2, 1: Zhou et al.'s weighted-lambda regularization).
        scale = np.maximum(np.diff(ratings.indptr), 1).astype(np.float64) ** cfg.reg_exponent
        if cfg.cg_steps and current is not None:
            solution = self._conjugate_gradient(mask, X, rhs, scale[:, None] * penalty, current)
        else:
            solution = np.empty((ratings.shape[0], d))
            outer = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], d * d)
            step = max(1, _CHUNK_ELEMENTS // (d * d))
            for start in range(0, ratings.shape[0], step):
                stop = min(start + step, ratings.shape[0])
                gram = np.asarray(mask[start:stop] @ outer).reshape(stop - start, d, d)
                gram += scale[start:stop, None, None] * np.diag(penalty)
                solution[start:stop] = np.linalg.solve(gram, rhs[start:stop, :, None])[:, :, 0]
        return solution[:, 0].copy(), solution[:, 1:].copy()

    def _conjugate_gradient(
        self,
        mask: sparse.csr_matrix,
        X: np.ndarray,
        rhs: np.ndarray,
        penalty: np.ndarray,
        start: np.ndarray,
    ) -> np.ndarray:
        """Batched CG on every row's ``(XᵀX + diag(penalty)) y = rhs`` (one system per row)."""
        rows = np.repeat(np.arange(mask.shape[0]), np.diff(mask.indptr))
        X_cols = X[mask.indices]
        weights = sparse.csr_matrix(
            (np.empty(mask.nnz), mask.indices, mask.indptr), shape=mask.shape)

        def times_a(Y: np.ndarray) -> np.ndarray:
            weights.data = np.einsum("ij,ij->i", Y[rows], X_cols)
            return np.asarray(weights @ X) + penalty * Y

        Y = start.copy()
        residual = rhs - times_a(Y)
        direction = residual.copy()
        rs = np.einsum("ij,ij->i", residual, residual)
        for _ in range(self.config.cg_steps):
            a_dir = times_a(direction)
            denom = np.einsum("ij,ij->i", direction, a_dir)
            alpha = np.divide(rs, denom, out=np.zeros_like(rs), where=denom > 1e-20)
            Y += alpha[:, None] * direction
            residual -= alpha[:, None] * a_dir
            rs_new = np.einsum("ij,ij->i", residual, residual)
            beta = np.divide(rs_new, rs, out=np.zeros_like(rs), where=rs > 1e-20)
            direction = residual + beta[:, None] * direction
            rs = rs_new
        return Y

    # -- prediction -----------------------------------------------------------------------
    def predict(self, customer_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """Predicted rating of each ``(customer_idx[j], item_idx[j])`` pair, with fallbacks."""
        self._check_fitted()
        u = np.asarray(customer_idx, dtype=np.int64)
        i = np.asarray(item_idx, dtype=np.int64)
        known_u = (u >= 0) & (u < self.n_customers_)
        known_i = (i >= 0) & (i < self.n_items_)
        both = known_u & known_i
        out = np.full(u.shape, self.mu_)
        out[known_u] += self.user_bias_[u[known_u]]
        out[known_i] += self.item_bias_[i[known_i]]
        out[both] += np.einsum("ij,ij->i", self.user_factors_[u[both]],
                               self.item_factors_[i[both]])
        return np.clip(out, self.range_[0], self.range_[1])

    def _score_rows(self, customer_idx: np.ndarray) -> np.ndarray:
        known = (customer_idx >= 0) & (customer_idx < self.n_customers_)
        out = np.full((len(customer_idx), self.n_items_), np.nan)
        rows = customer_idx[known]
        has_ratings = np.diff(self.history_.indptr)[rows] > 0
        rows = rows[has_ratings]
        target = np.flatnonzero(known)[has_ratings]
        if rows.size:
            out[target] = self._rating_rows(self.user_bias_[rows], self.user_factors_[rows])
        return out

    def _scores_from_history(self, histories: np.ndarray) -> np.ndarray:
        """Fold-in: solve each history row's bias and factors against the fixed items."""
        bias, factors = self._solve(
            sparse.csr_matrix(histories), self.item_factors_, self.item_bias_)
        return self._rating_rows(bias, factors)

    def _rating_rows(self, bias: np.ndarray, factors: np.ndarray) -> np.ndarray:
        raw = self.mu_ + bias[:, None] + self.item_bias_[None, :] + factors @ self.item_factors_.T
        return np.clip(raw, self.range_[0], self.range_[1])

    # -- persistence ----------------------------------------------------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        state = pack_sparse("history_", self.history_)
        state.update(mu_=np.asarray(self.mu_), range_=self.range_,
                     user_bias_=self.user_bias_, item_bias_=self.item_bias_,
                     user_factors_=self.user_factors_, item_factors_=self.item_factors_)
        return state

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.history_ = unpack_sparse("history_", arrays)
        self.n_customers_, self.n_items_ = self.history_.shape
        self.mu_ = float(arrays["mu_"])
        self.range_ = arrays["range_"]
        self.user_bias_, self.item_bias_ = arrays["user_bias_"], arrays["item_bias_"]
        self.user_factors_, self.item_factors_ = arrays["user_factors_"], arrays["item_factors_"]
