"""Point-in-time behavioural features per customer: RFM, tenure, category shares, service."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.needs.cutoffs import to_utc as as_utc

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset

DAY = pd.Timedelta(days=1)


class BehaviourConfig(BaseModel):
    """Which behavioural features to compute and over which windows."""

    model_config = ConfigDict(extra="forbid")

    purchase_types: tuple[str, ...] = ("purchase",)
    return_types: tuple[str, ...] = ("return",)
    service_types: tuple[str, ...] = ("service_ticket",)
    feedback_types: tuple[str, ...] = ("feedback", "rating")
    recent_days: tuple[int, ...] = (30, 90, 180)
    top_categories: int = Field(default=8, ge=0)


# Columns that are counts, amounts or durations (heavy-tailed, >= 0): log1p before scaling.
HEAVY_TAILED_PREFIXES = ("recency_", "frequency", "purchase_gap", "monetary", "tenure_",
                         "purchases_",
                         "events_", "returns", "service_tickets", "feedback_count",
                         "avg_order_value")


def is_heavy_tailed(column: str) -> bool:
    """True for behavioural columns that are counts, amounts or durations."""
    return column.startswith(HEAVY_TAILED_PREFIXES)


def event_amounts(data: Dataset, events: pd.DataFrame) -> np.ndarray:
    """Money of each event: quantity (``value``, 1 when missing) × item price (1 when unknown).

    Negative quantities (cancellations recorded as negative purchases) count as negative money.
    """
    qty = events["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    qty = np.where(np.isnan(qty), 1.0, qty)
    if "price" in data.items.columns and len(events):
        price = data.items["price"].astype(float)
        unit = events["item_id"].map(price).to_numpy(dtype=np.float64, na_value=np.nan)
        unit = np.where(np.isnan(unit), 1.0, unit)
    else:
        unit = np.ones(len(events))
    return np.asarray(qty * unit, dtype=np.float64)


def top_categories(data: Dataset, events: pd.DataFrame, k: int) -> list[str]:
    """The ``k`` item categories with the most events (ties by name)."""
    if k == 0 or "categories" not in data.items.columns or events.empty:
        return []
    return top_categories_of(data.items["categories"],
                             events["item_id"].dropna().astype(str).value_counts(), k)


def top_categories_of(categories: pd.Series, per_item: pd.Series, k: int) -> list[str]:
    """:func:`top_categories` from each item's categories and its number of events
    (``per_item``, indexed by item id), e.g. counted on a distributed engine."""
    counts: dict[str, int] = {}
    for item_id, n in per_item.items():
        for c in _as_list(categories.get(item_id)):
            counts[c] = counts.get(c, 0) + int(n)
    return [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def _as_list(value: object) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    return []


def behaviour_features(
    data: Dataset,
    customers: pd.Index,
    cutoff: dt.datetime | pd.Timestamp,
    config: BehaviourConfig | None = None,
    *,
    categories: list[str] | None = None,
) -> pd.DataFrame:
    """Behavioural features of ``customers`` from events strictly before ``cutoff``.

    Parameters
    ----------
    data:
        The tenant's data set.
    customers:
        The customer ids to describe (rows of the result, in this order).
    cutoff:
        Only events with ``ts < cutoff`` are read, so later events cannot leak in.
    config:
        Event types and windows; defaults to :class:`BehaviourConfig`.
    categories:
        The categories to compute shares for; by default the top categories before ``cutoff``
        (pass the training set's list when scoring so the columns match).

    Returns
    -------
    pandas.DataFrame
        One float column per feature, indexed by ``customer_id``. Customers without events
        get zero counts and a recency of their whole history window (days since the first
        event in the data, plus one).
    """
    cfg = config or BehaviourConfig()
    cut = as_utc(cutoff)
    ev = data.events[data.events["ts"] < cut]
    ev = ev[ev["customer_id"].astype(str).isin(customers)]
    idx = pd.Index(customers, name="customer_id")
    out = pd.DataFrame(index=idx)
    first_ts = data.events["ts"].min() if len(data.events) else cut
    horizon = float((cut - as_utc(first_ts)) / DAY) + 1.0 if len(data.events) else 1.0
    cid = ev["customer_id"].astype(str)

    def days_since(ts: pd.Series) -> pd.Series:
        age = (cut - ts).dt.total_seconds() / 86400.0
        return age.reindex(idx).fillna(horizon).clip(lower=0.0)

    # any activity
    out["recency_any_days"] = days_since(ev.groupby(cid)["ts"].max())
    out["tenure_days"] = days_since(ev.groupby(cid)["ts"].min())
    out["events_total"] = cid.value_counts().reindex(idx, fill_value=0).astype(float)

    buys = ev[ev["type"].isin(list(cfg.purchase_types))]
    bid = buys["customer_id"].astype(str)
    amount = pd.Series(event_amounts(data, buys), index=buys.index)
    out["recency_purchase_days"] = days_since(buys.groupby(bid)["ts"].max())
    days = buys["ts"].dt.floor("D")
    out["frequency"] = days.groupby(bid).nunique().reindex(idx, fill_value=0).astype(float)
    out["purchases_total"] = bid.value_counts().reindex(idx, fill_value=0).astype(float)
    monetary = amount.groupby(bid).sum().reindex(idx, fill_value=0.0).clip(lower=0.0)
    out["monetary"] = monetary
    out["avg_order_value"] = (monetary / out["frequency"].replace(0.0, np.nan)).fillna(0.0)
    for window in cfg.recent_days:  # distinct purchase days (orders) in the window
        recent = buys["ts"] >= cut - pd.Timedelta(days=window)
        out[f"purchases_last_{window}d"] = (
            days[recent].groupby(bid[recent]).nunique().reindex(idx, fill_value=0)
            .astype(float))
    # the customer's own rhythm: mean days between purchase days, and recency against it
    span = (buys.groupby(bid)["ts"].max() - buys.groupby(bid)["ts"].min()).dt.total_seconds()
    gaps = (span / 86400.0).reindex(idx) / (out["frequency"] - 1.0).where(out["frequency"] > 1)
    out["purchase_gap_days"] = gaps.fillna(out["tenure_days"]).clip(lower=1.0)
    out["recency_to_gap"] = out["recency_purchase_days"] / out["purchase_gap_days"]

    rets = ev["type"].isin(list(cfg.return_types))
    out["returns"] = cid[rets].value_counts().reindex(idx, fill_value=0).astype(float)
    out["return_rate"] = (out["returns"] / (out["purchases_total"] + out["returns"])
                          .replace(0.0, np.nan)).fillna(0.0)
    svc = ev["type"].isin(list(cfg.service_types))
    out["service_tickets"] = cid[svc].value_counts().reindex(idx, fill_value=0).astype(float)
    fb = ev[ev["type"].isin(list(cfg.feedback_types))]
    fid = fb["customer_id"].astype(str)
    out["feedback_count"] = fid.value_counts().reindex(idx, fill_value=0).astype(float)
    out["feedback_mean"] = fb.groupby(fid)["value"].mean().reindex(idx).fillna(0.0)

    cats = (top_categories(data, buys, cfg.top_categories) if categories is None
            else categories)
    if cats:
        item_cats = data.items["categories"]
        bought_cats = buys["item_id"].astype(str).map(lambda i: _as_list(item_cats.get(i)))
        total = out["purchases_total"].replace(0.0, np.nan)
        for c in cats:
            has = bought_cats.map(lambda cs, c=c: c in cs).astype(bool)
            n = bid[has].value_counts().reindex(idx, fill_value=0).astype(float)
            out[f"share_{_slug(c)}"] = (n / total).fillna(0.0)
    return out.astype(float)


def _slug(text: str) -> str:
    """A column-safe form of a category name (readable, lowercase)."""
    keep = "".join(ch.lower() if ch.isalnum() else "_" for ch in str(text))
    return "_".join(part for part in keep.split("_") if part)[:40] or "category"
