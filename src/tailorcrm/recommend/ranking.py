"""Top-N once, outside the models: exclusions, consent, and reasons on every item."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best finite scores per row, best first, ``-1`` padded.

    Ties break by the lower item index, so lists are deterministic.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    n_rows, n_items = scores.shape
    k = min(k, n_items)
    out = np.full((n_rows, k), -1, dtype=np.int64)
    if k == 0:
        return out
    safe = np.where(np.isfinite(scores), scores, -np.inf)
    part = np.argpartition(-safe, k - 1, axis=1)[:, :k] if k < n_items else \
        np.tile(np.arange(n_items), (n_rows, 1))
    part_scores = np.take_along_axis(safe, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    ok = np.isfinite(np.take_along_axis(safe, best, axis=1))
    out[ok] = best[ok]
    # keep the valid ones left-aligned
    return np.asarray([np.concatenate([r[r >= 0], r[r < 0]]) for r in out]) if (~ok).any() \
        else out
