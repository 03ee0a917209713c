"""Machine-readable reasons attached to every recommended item, each with a weight."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

ReasonKind = Literal["history_item", "attribute", "popular", "model", "similar_customers", "rule",
                     "need"]


@dataclass(frozen=True)
class Reason:
    """One reason an item was recommended.

    Attributes
    ----------
    kind:
        ``history_item`` (an item in the customer's history led to it), ``attribute``
        (a matching item or customer attribute), ``popular`` (popular globally, in the
        customer's segment, or trending), ``model`` (the model that contributed most to a
        blend), ``similar_customers`` (customers like this one chose it).
    label:
        Human-readable text a salesperson can read, e.g. ``"bought Tent 2p"``.
    weight:
        Share of the score this reason explains (reasons of one item sum to about 1).
    ref:
        The thing referred to: an item index, an attribute ``name=value``, a segment or a
        model name, as a string.
    """

    kind: ReasonKind
    label: str
    weight: float
    ref: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the store and the API carry)."""
        out = asdict(self)
        out["weight"] = round(float(self.weight), 4)
        return out


def normalize_weights(reasons: list[Reason], limit: int = 3) -> list[Reason]:
    """The ``limit`` strongest reasons, weights rescaled to sum to 1 (ties keep order)."""
    ranked = sorted(reasons, key=lambda r: -abs(r.weight))[:limit]
    total = sum(abs(r.weight) for r in ranked)
    if total <= 0:
        return ranked
    return [Reason(r.kind, r.label, abs(r.weight) / total, r.ref) for r in ranked]


def history_reasons(
    contributions: np.ndarray, history_idx: np.ndarray, limit: int = 3
) -> list[Reason]:
    """``history_item`` reasons from per-history-item score contributions.

    ``contributions[j]`` is how much history item ``history_idx[j]`` added to the score. The
    label is left empty: :mod:`tailorcrm.recommend.ranking` writes it (``"bought <title>"``)
    from the data set, since models only know indices.
    """
    reasons = [
        Reason("history_item", "", float(c), str(int(j)))
        for j, c in zip(history_idx, contributions, strict=True)
        if c > 0
    ]
    return normalize_weights(reasons, limit)
