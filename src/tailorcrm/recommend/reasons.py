"""Machine-readable reasons attached to every recommended item, each with a weight."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
        # by hand: dataclasses.asdict deep-copies recursively (a tenth of an online list's time)
        return {"kind": self.kind, "label": self.label,
                "weight": round(float(self.weight), 4), "ref": self.ref}


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


def top_positive_reasons(contributions: np.ndarray, limit: int = 3) -> list[list[Reason]]:
    """:func:`history_reasons` for many rows at once: row ``p`` of ``contributions`` holds
    what each item (column) added to pair ``p``'s score.

    The same reasons, order and weights per row as :func:`history_reasons` gives: the
    ``limit`` largest positive contributions, ties by the lower item index, rescaled to 1.
    """
    n_rows, n_cols = contributions.shape
    out: list[list[Reason]] = [[] for _ in range(n_rows)]
    if n_rows == 0 or n_cols == 0 or limit <= 0:
        return out
    if n_cols > limit:
        kth = np.partition(contributions, n_cols - limit, axis=1)[:, n_cols - limit]
        mask = (contributions > 0) & (contributions >= kth[:, None])
    else:
        mask = contributions > 0
    rows, cols = np.nonzero(mask)
    values = contributions[rows, cols]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
    keep = rank < limit
    picked: list[list[tuple[float, int]]] = [[] for _ in range(n_rows)]
    for r, c, v in zip(rows[keep].tolist(), cols[keep].tolist(), values[keep].tolist(),
                       strict=True):
        picked[r].append((v, c))
    for r, kept in enumerate(picked):
        if kept:
            total = sum(v for v, _ in kept)
            out[r] = [Reason("history_item", "", v / total, str(c)) for v, c in kept]
    return out


def explain_from_history(
    history: sparse.csr_matrix,
    customer_idx: np.ndarray,
    item_idx: np.ndarray,
    columns: Callable[[np.ndarray], np.ndarray],
    limit: int = 3,
    max_cells: int = 2_000_000,
) -> list[list[Reason]]:
    """``history_item`` reasons for ``(customer, item)`` pairs, from arrays.

    ``columns(targets)`` gives the ``n_items × len(targets)`` item weights into each target
    (EASE weights, similarities); each is multiplied by the customer's positive history
    values, in chunks of at most ``max_cells`` contributions. Customers outside ``history``
    get no reasons.
    """
    cs = np.asarray(customer_idx, dtype=np.int64).ravel()
    its = np.asarray(item_idx, dtype=np.int64).ravel()
    out: list[list[Reason]] = [[] for _ in range(len(cs))]
    known = np.flatnonzero((cs >= 0) & (cs < history.shape[0]))
    step = max(1, max_cells // max(history.shape[1], 1))
    for start in range(0, len(known), step):
        pos = known[start:start + step]
        rows = history[cs[pos]].toarray()
        rows = np.where(rows > 0, rows, 0.0)
        contributions = rows * np.asarray(columns(its[pos])).T
        for p, reasons in zip(pos.tolist(), top_positive_reasons(contributions, limit),
                              strict=True):
            out[p] = reasons
    return out
