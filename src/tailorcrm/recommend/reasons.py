"""Machine-readable reasons attached to every recommended item, each with a weight."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import sparse

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


def history_reasons_block(
    contributions: np.ndarray, history_idx: np.ndarray, limit: int = 3
) -> list[list[Reason]]:
    """:func:`history_reasons` for several target items of one customer at once.

    ``contributions[h, j]`` is how much history item ``history_idx[h]`` added to target
    ``j``'s score; the answer holds one reason list per target (column), the same reasons,
    order and weights :func:`history_reasons` gives for that column.
    """
    n_hist, n_targets = contributions.shape
    if n_hist == 0 or limit <= 0:
        return [[] for _ in range(n_targets)]
    positive = np.where(contributions > 0, contributions, 0.0)
    order = np.argsort(-positive, axis=0, kind="stable")[:limit]
    values = np.take_along_axis(positive, order, axis=0)
    refs = history_idx[order]
    out: list[list[Reason]] = []
    for vals, ids in zip(values.T.tolist(), refs.T.tolist(), strict=True):
        kept = [(v, r) for v, r in zip(vals, ids, strict=True) if v > 0]
        total = sum(v for v, _ in kept)
        out.append([Reason("history_item", "", v / total, str(r)) for v, r in kept])
    return out


def explain_from_history(
    history: sparse.csr_matrix,
    customer_idx: np.ndarray,
    item_idx: np.ndarray,
    block: Callable[[np.ndarray, np.ndarray], np.ndarray],
    limit: int = 3,
) -> list[list[Reason]]:
    """``history_item`` reasons for ``(customer, item)`` pairs, one customer at a time.

    ``block(history_items, targets)`` gives the ``len(history_items) × len(targets)`` item
    weights (similarities, EASE weights); each is multiplied by the customer's history value.
    Customers outside ``history`` get no reasons.
    """
    cs = np.asarray(customer_idx, dtype=np.int64).ravel()
    its = np.asarray(item_idx, dtype=np.int64).ravel()
    out: list[list[Reason]] = [[] for _ in range(len(cs))]
    known = np.flatnonzero((cs >= 0) & (cs < history.shape[0]))
    if not len(known):
        return out
    order = known[np.argsort(cs[known], kind="stable")]
    bounds = np.flatnonzero(np.diff(cs[order])) + 1
    for group in np.split(order, bounds):
        c = int(cs[group[0]])
        start, end = history.indptr[c], history.indptr[c + 1]
        idx, vals = history.indices[start:end], history.data[start:end]
        keep = vals > 0
        idx, vals = idx[keep], vals[keep]
        sort = np.argsort(idx, kind="stable")
        idx, vals = idx[sort], np.asarray(vals[sort], dtype=np.float64)
        contributions = vals[:, None] * block(idx, its[group])
        for pos, reasons in zip(group, history_reasons_block(contributions, idx, limit),
                                strict=True):
            out[pos] = reasons
    return out
