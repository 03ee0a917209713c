"""The validation carve a tenant's model choice is made on: the newest part of its own events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from tailorcrm.data.dataset import Dataset

CarveKind = Literal["auto", "per_customer", "global"]

#: ``auto`` carves per customer when at least this share of the customers with events have
#: two or more distinct event times (so most of them have a "later" to hold out).
REPEAT_CUSTOMER_SHARE = 0.3


@dataclass
class Carve:
    """Fit events, validation relevance and the customers the choice is judged on."""

    fit: Dataset
    relevant: sparse.csr_matrix
    customers: np.ndarray
    description: dict[str, Any] = field(default_factory=dict)


def _per_customer(events: pd.DataFrame, share: float) -> np.ndarray:
    """Validation mask: each customer's last ``share`` of events (≥ 1), whole timestamps.

    The cut is the time of the customer's ``n - max(1, round(share·n))``-th event (0-based,
    by time, ties in file order); every event at or after it is held out, so a basket is
    never split. A customer whose events all share that time keeps them all.
    """
    frame = pd.DataFrame({"c": events["customer_id"].to_numpy(),
                          "t": events["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
                          "p": np.arange(len(events))})
    frame = frame.sort_values(["c", "t", "p"], kind="stable")
    groups = frame.groupby("c", sort=False)
    size = groups["t"].transform("size").to_numpy()
    start = np.r_[0, np.cumsum(groups.size().to_numpy())[:-1]]
    first = np.repeat(start, groups.size().to_numpy())
    n_val = np.maximum(1, np.rint(share * size)).astype(np.int64)
    t = frame["t"].to_numpy()
    cut = t[first + np.maximum(size - n_val, 0)]
    held = (t >= cut) & (t[first] < cut) & (size >= 2)
    out = np.zeros(len(events), dtype=bool)
    out[frame["p"].to_numpy()[held]] = True
    return out


def _global(events: pd.DataFrame, share: float) -> tuple[np.ndarray, pd.Timestamp]:
    """Validation mask: events at or after the ``1 - share`` quantile of event times."""
    ts = events["ts"]
    cut = pd.Timestamp(ts.quantile(1.0 - share, interpolation="higher"))  # type: ignore[arg-type]
    held = np.asarray(ts >= cut, dtype=bool)
    if held.all():  # every event at one time: nothing later to hold out
        held = np.zeros(len(ts), dtype=bool)
    return held, cut


def carve(data: Dataset, *, kind: CarveKind = "auto", share: float = 0.2,
          global_share: float = 0.1, max_customers: int = 2000,
          random_state: int = 42) -> Carve:
    """Hold out the newest events of ``data`` (deterministic, training data only).

    ``per_customer``: each customer's last ``share`` of item events (at least their last
    timestamp) when they have events at two or more times. ``global``: the last
    ``global_share`` of all item events by time. ``auto`` picks ``per_customer`` unless
    fewer than :data:`REPEAT_CUSTOMER_SHARE` of the customers have two distinct event
    times (one-order customers, as in a marketplace slice), then ``global``. Relevant are
    held-out items of positive catalog weight; judged are personalizable customers with
    relevant items, sampled down to ``max_customers`` with ``random_state``.
    """
    ev = data.events
    with_item = ev["item_id"].notna().to_numpy()
    items = ev[with_item]
    if kind == "auto":
        times = items.groupby("customer_id")["ts"].nunique()
        repeat_share = float((times >= 2).mean()) if len(times) else 0.0
        kind = "per_customer" if repeat_share >= REPEAT_CUSTOMER_SHARE else "global"
    else:
        repeat_share = float("nan")
    held = np.zeros(len(ev), dtype=bool)
    description: dict[str, Any] = {"kind": kind}
    if kind == "per_customer":
        held[with_item] = _per_customer(items, share)
        description["rule"] = (f"each customer's last {share:.0%} of item events (at least "
                               "their last timestamp; baskets kept whole)")
    elif len(items):
        mask, cut = _global(items, global_share)
        held[with_item] = mask
        description["rule"] = f"the last {global_share:.0%} of item events by time"
        description["cutoff"] = cut.isoformat()
    if repeat_share == repeat_share:
        description["customers_with_two_times_share"] = round(repeat_share, 4)
    fit = data.with_events(ev[~held])
    val = data.with_events(ev[held])
    relevant = val.interaction_matrix(weighting="binary")
    has = (np.diff(relevant.indptr) > 0) & data.personalizable_customers()
    customers = np.flatnonzero(has)
    sampled = len(customers) > max_customers
    if sampled:
        rng = np.random.default_rng(random_state)
        customers = np.sort(rng.choice(customers, size=max_customers, replace=False))
    description.update(fit_events=int((~held).sum()), validation_events=int(held.sum()),
                       validation_customers=len(customers),
                       customers_with_validation=int(has.sum()), sampled=sampled)
    return Carve(fit, relevant, customers, description)


def ndcg_rows(best: np.ndarray, relevant: sparse.csr_matrix, k: int) -> np.ndarray:
    """Per-row nDCG@k of lists ``best`` (``-1`` padded) against ``relevant`` rows.

    The formula of :func:`tailorcrm.evaluation.metrics.ranking_metrics` (binary relevance,
    ideal over ``min(k, |relevant|)``), one value per row; rows without relevant items are 0.
    """
    best = np.asarray(best[:, :k], dtype=np.int64)
    n, width = best.shape
    rel = sparse.csr_matrix(relevant)
    n_rel = np.diff(rel.indptr)
    rows = np.repeat(np.arange(n), width)
    cols = best.ravel()
    ok = cols >= 0
    hit = np.zeros(n * width, dtype=bool)
    if ok.any():
        hit[ok] = np.asarray(rel[rows[ok], cols[ok]]).ravel() > 0
    discount = 1.0 / np.log1p(np.arange(1, width + 1, dtype=np.float64))
    dcg = (hit.reshape(n, width) * discount).sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log1p(np.arange(1, k + 1)))])
    idcg = ideal[np.minimum(n_rel, k)]
    return np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0)
