"""Accuracy and beyond-accuracy metrics of top-k lists and rating predictions."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from tailorcrm.errors import ValidationError


def _hits(recommended: np.ndarray, relevant: sparse.csr_matrix) -> np.ndarray:
    """Boolean matrix: ``hits[u, j]`` is True when list ``u``'s ``j``-th item is relevant."""
    rows = np.repeat(np.arange(recommended.shape[0]), recommended.shape[1])
    cols = recommended.ravel()
    ok = cols >= 0
    out = np.zeros(cols.shape[0], dtype=bool)
    out[ok] = np.asarray(relevant[rows[ok], cols[ok]]).ravel() > 0
    return out.reshape(recommended.shape)


def ranking_metrics(
    recommended: np.ndarray,
    relevant: sparse.csr_matrix,
    k: int,
) -> dict[str, float]:
    """nDCG@k, Precision@k, Recall@k and MAP as Microsoft Recommenders computes them.

    Written by hand on arrays (their ``python_evaluation`` works on pandas merges and would
    need their package): binary relevance; the ``n_users`` averaged over are the users with
    at least one relevant (test) item **and** at least one recommendation; users without any
    hit count as 0. Per user ``u`` with test items ``T_u`` and hits at 1-based ranks ``r``:

    * precision = hits / k (a list shorter than k is not renormalised, as in Spark),
    * recall = hits / |T_u|,
    * nDCG = Σ 1/log(1 + r) / Σ_{i=1}^{min(k, |T_u|)} 1/log(1 + i),
    * MAP = Σ_j (j / r_j) / |T_u| over the j-th hit (their ``map``, divided by the number of
      relevant items, not by ``min(k, |T_u|)``).

    Parameters
    ----------
    recommended:
        ``(n_customers, k')`` item indices, best first, ``-1`` padding; seen items are
        expected to be excluded already. Row ``u`` belongs to customer index ``u``.
    relevant:
        ``(n_customers, n_items)`` matrix, non-zero where the item is relevant (test).
    k:
        Cut-off; lists are truncated to their first ``k`` columns.
    """
    if recommended.ndim != 2 or recommended.shape[0] != relevant.shape[0]:
        raise ValidationError("recommended must have one row per customer of the relevance matrix")
    recs = np.asarray(recommended[:, :k], dtype=np.int64)
    relevant = sparse.csr_matrix(relevant)
    relevant.eliminate_zeros()
    n_relevant = np.diff(relevant.indptr)
    users = (n_relevant > 0) & (recs >= 0).any(axis=1)
    n_users = int(users.sum())
    if n_users == 0:
        return {"ndcg": 0.0, "precision": 0.0, "recall": 0.0, "map": 0.0, "n_users": 0.0}
    hits = _hits(recs[users], relevant[users])
    actual = n_relevant[users].astype(np.float64)
    ranks = np.arange(1, recs.shape[1] + 1, dtype=np.float64)
    discount = 1.0 / np.log1p(ranks)
    n_hits = hits.sum(axis=1)
    dcg = (hits * discount).sum(axis=1)
    ideal_cum = np.concatenate([[0.0], np.cumsum(1.0 / np.log1p(np.arange(1, k + 1)))])
    idcg = ideal_cum[np.minimum(actual.astype(np.int64), k)]
    hit_number = np.cumsum(hits, axis=1)
    average_precision = (hits * hit_number / ranks).sum(axis=1) / actual
    return {
        "ndcg": float((dcg / idcg).sum() / n_users),
        "precision": float((n_hits / k).sum() / n_users),
        "recall": float((n_hits / actual).sum() / n_users),
        "map": float(average_precision.sum() / n_users),
        "n_users": float(n_users),
    }


def catalog_coverage(recommended: np.ndarray, train: sparse.csr_matrix) -> float:
    """Distinct recommended items over distinct items in train (Recommenders' definition)."""
    in_train = np.asarray(train.getnnz(axis=0)) > 0
    n_train_items = int(in_train.sum())
    if n_train_items == 0:
        return 0.0
    recs = recommended[recommended >= 0]
    return float(np.unique(recs).size / n_train_items)


def novelty(recommended: np.ndarray, train: sparse.csr_matrix) -> float:
    """Mean self-information ``-log2(p_i)`` of recommended items (Recommenders' ``novelty``).

    ``p_i`` is the share of train customers who interacted with item ``i``; recommended
    items never seen in train (``p_i = 0``, infinite novelty) are left out of the mean.
    """
    binary = sparse.csr_matrix(train)
    users_in_train = int((binary.getnnz(axis=1) > 0).sum())
    if users_in_train == 0:
        return 0.0
    share = np.asarray(binary.getnnz(axis=0), dtype=np.float64) / users_in_train
    recs = recommended[recommended >= 0]
    recs = recs[share[recs] > 0]
    if recs.size == 0:
        return 0.0
    return float(np.mean(-np.log2(share[recs])))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error."""
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.mean(np.abs(diff)))
