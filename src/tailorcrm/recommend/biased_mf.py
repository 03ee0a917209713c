"""Biased matrix factorization: an explicit-rating predictor (Bayesian Gibbs sampling or ALS)."""

from __future__ import annotations

import logging
from typing import Literal, Self

import numpy as np
from pydantic import Field
from scipy import sparse, stats

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.recommend.base import ModelConfig, Recommender, pack_sparse, unpack_sparse

log = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 4_000_000  # floats per block of per-row Gram matrices (~32 MB)


class BiasedMFConfig(ModelConfig):
    """Hyper-parameters of :class:`BiasedMF`.

    The defaults were chosen on a validation split (10 % of the training part of the first
    shuffled 5-fold of MovieLens 100K), never on a test fold; see ``docs/evaluation.md``.
    ``iterations`` ALS steps start the chain (a short start mixes better than a fully
    converged, strongly shrunk ALS solution); ``solver="als"`` stops there, so give it more
    (15 with ``factors=50``, ``reg_factors=15`` was the best plain-ALS point).
    """

    solver: Literal["gibbs", "als"] = "gibbs"
    factors: int = Field(10, gt=0)
    reg_bias: float = Field(5.0, ge=0)
    reg_factors: float = Field(15.0, gt=0)
    reg_exponent: float = Field(0.0, ge=0, le=1)
    iterations: int = Field(3, gt=0)
    cg_steps: int = Field(0, ge=0)
    noise_precision: float = Field(1.5, gt=0)
    burn_in: int = Field(40, ge=0)
    samples: int = Field(60, gt=0)
    thin: int = Field(2, gt=0)
    init_std: float = Field(0.1, gt=0)
    event_type: str = "rating"
    random_state: int = 0


class BiasedMF(Recommender):
    """``r̂(u, i) = μ + b_u + b_i + p_u · q_i``, fitted by ALS and optionally Gibbs sampling.

    ALS: each half-step solves every customer's (then every item's) bias and factors jointly
    in closed form, ``(XᵀX + Λ) y = Xᵀ(r − μ − b_other)`` with ``X = [1, Q]``; the per-row
    Gram matrices are built for all rows at once as a sparse product with the items' outer
    products and solved in one batched ``numpy.linalg.solve``.

    ``solver="gibbs"`` (the default) continues from ``iterations`` ALS steps with the
    Bayesian treatment of Salakhutdinov & Mnih (BPMF, ICML 2008) extended to the bias
    column: each sweep draws Normal-Wishart hyper-parameters of each side, then every row
    from its Gaussian posterior (noise precision ``noise_precision``). After ``burn_in``
    sweeps, every ``thin``-th of ``samples`` draws is kept; the prediction is the average
    over draws, stored exactly as one factorisation by concatenating the draws' factors
    (scaled by ``1/√S``) and averaging the biases.

    Written by hand because neither implicit (implicit feedback only) nor scikit-learn (no
    missing-value MF) fits explicit ratings with biases. Predictions are clipped to the
    training rating range.

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
        # Rebuilt from (row, col, value) triples so a rating of 0 stays a rating; customers
        # who denied personalization are left out.
        coo = data.interaction_matrix(weighting="value", types=[cfg.event_type]).tocoo()
        keep = data.personalizable_customers()[coo.row]
        ratings = sparse.csr_matrix(
            (coo.data[keep].astype(np.float64), (coo.row[keep], coo.col[keep])), shape=coo.shape)
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
        if cfg.solver == "gibbs":
            self._sample_posterior(ratings, by_item, rng)
        return self

    def _sample_posterior(
        self, ratings: sparse.csr_matrix, by_item: sparse.csr_matrix, rng: np.random.Generator
    ) -> None:
        """BPMF Gibbs sweeps from the ALS solution; keeps the averaged predictor."""
        cfg = self.config
        users = np.hstack([self.user_bias_[:, None], self.user_factors_])
        items = np.hstack([self.item_bias_[:, None], self.item_factors_])
        kept_users: list[np.ndarray] = []
        kept_items: list[np.ndarray] = []
        for sweep in range(cfg.burn_in + cfg.samples):
            users = self._draw(ratings, items, users, rng)
            items = self._draw(by_item, users, items, rng)
            if sweep >= cfg.burn_in and (sweep - cfg.burn_in) % cfg.thin == 0:
                kept_users.append(users)
                kept_items.append(items)
        n = len(kept_users)
        self.user_bias_ = np.mean([u[:, 0] for u in kept_users], axis=0)
        self.item_bias_ = np.mean([i[:, 0] for i in kept_items], axis=0)
        self.user_factors_ = np.hstack([u[:, 1:] for u in kept_users]) / np.sqrt(n)
        self.item_factors_ = np.hstack([i[:, 1:] for i in kept_items]) / np.sqrt(n)

    def _draw(
        self,
        ratings: sparse.csr_matrix,
        other: np.ndarray,
        current: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """One Gibbs half-sweep: hyper-parameters of this side, then every row's draw.

        ``other`` and ``current`` hold ``[bias, factors]`` per row; a row ``y`` has the
        posterior ``N(A⁻¹(α Xᵀ t + Λ m), A⁻¹)`` with ``A = α XᵀX + Λ``, ``X = [1, Q]`` and
        ``t = r − μ − b_other``.
        """
        alpha = self.config.noise_precision
        precision, mean = _normal_wishart(current, rng)
        X = np.hstack([np.ones((other.shape[0], 1)), other[:, 1:]])
        mask = ratings.copy()
        mask.data = np.ones_like(mask.data)
        rhs = alpha * np.asarray(ratings @ X - mask @ (X * (self.mu_ + other[:, 0])[:, None]))
        rhs += precision @ mean
        d = X.shape[1]
        outer = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], d * d)
        out = np.empty_like(current)
        step = max(1, _CHUNK_ELEMENTS // (d * d))
        for start in range(0, ratings.shape[0], step):
            stop = min(start + step, ratings.shape[0])
            gram = alpha * np.asarray(mask[start:stop] @ outer).reshape(stop - start, d, d)
            gram += precision
            centre = np.linalg.solve(gram, rhs[start:stop, :, None])[:, :, 0]
            chol_t = np.swapaxes(np.linalg.cholesky(gram), 1, 2)
            noise = rng.standard_normal((stop - start, d, 1))
            out[start:stop] = centre + np.linalg.solve(chol_t, noise)[:, :, 0]
        return out

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


def _normal_wishart(rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A draw of (precision Λ, mean m) from the Normal-Wishart posterior given ``rows``.

    Prior as in BPMF: ``μ0 = 0``, ``β0 = 2``, ``ν0 = d``, ``W0 = I``.
    """
    n, d = rows.shape
    beta0 = 2.0
    centre = rows.mean(axis=0)
    spread = np.cov(rows.T, bias=True) if n > 1 else np.zeros((d, d))
    w_inv = np.eye(d) + n * spread + beta0 * n / (beta0 + n) * np.outer(centre, centre)
    scale = np.linalg.inv(w_inv)
    scale = (scale + scale.T) / 2.0
    precision = np.asarray(stats.wishart.rvs(df=d + n, scale=scale, random_state=rng))
    mean = rng.multivariate_normal(n * centre / (beta0 + n),
                                   np.linalg.inv((beta0 + n) * precision))
    return precision, mean
