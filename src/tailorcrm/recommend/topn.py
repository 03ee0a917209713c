"""Top-N selection over score arrays and the one recommended-item record lists are made of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tailorcrm.recommend.reasons import Reason


@dataclass(frozen=True)
class Recommendation:
    """One recommended item: its external id, its score and why."""

    item_id: str
    score: float
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape stored in recommendation lists and served by the API."""
        return {"item_id": self.item_id, "score": round(float(self.score), 6),
                "reasons": [r.to_dict() for r in self.reasons]}


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
    part = np.argpartition(-safe, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(safe, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    finite = np.isfinite(np.take_along_axis(safe, best, axis=1))
    return np.where(finite, best, -1)  # -inf sorts last, so valid items stay left-aligned
