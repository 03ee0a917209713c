"""The demo's ground truth as plain data: planted tastes, relevant items, churn and propensity."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tailorcrm.demo.churn import DRIVER_SIGNS, NULL_FIELDS, ChurnDraw
from tailorcrm.demo.config import DemoConfig
from tailorcrm.demo.customers import CustomerDraw
from tailorcrm.demo.events import affinity, purchase_probabilities
from tailorcrm.demo.items import ItemDraw
from tailorcrm.demo.latent import LatentSpace

PER_CUSTOMER_COLUMNS = ("customer_id", "monthly_hazard", "churn_probability", "churn_date",
                        "active_at_cutoff", "churned", "dissatisfaction", "propensity_share")


@dataclass(frozen=True)
class DemoTruth:
    """What the generator planted, for quality tests to check that models recover it.

    Attributes
    ----------
    cutoff_date, horizon_days:
        Reference cut-off (ISO date) and horizon of the derived needs; the horizon ends on the
        last day of the history.
    customer_ids, item_ids:
        Row order of the factor arrays (the same order as the data frames).
    customer_factors, item_factors, item_bias:
        Planted tastes; ``affinity()`` combines them exactly as the events were drawn.
    relevant_items:
        customer_id -> the ``relevant_k`` available items of highest planted affinity, best
        first (new items included, so cold-start items can be recovered too).
    per_customer:
        One row per customer, columns ``PER_CUSTOMER_COLUMNS``: monthly churn hazard, the chance
        to churn within the horizon, the churn date (ISO date or None), whether the customer is
        active at the cut-off (signed up, not cold-start, not churned yet), ``churned`` (active
        at the cut-off and churned within the horizon: no event after the churn date), the
        hidden dissatisfaction, and ``propensity_share`` (planted share of the customer's
        purchases that fall in the propensity category).
    churn_driver_signs:
        Driver name -> sign on churn (``contract=month-to-month``, ``budget``, ...).
    churn_null_fields:
        Customer fields with no effect on churn.
    category_propensity:
        ``{"category", "field", "value", "sign", "horizon_days"}``: customers whose ``field``
        equals ``value`` buy ``category`` more.
    industry_favourite_category:
        Every industry's favourite category (the propensity driver is one of these).
    cold_start_customers, new_items:
        Customers and items without any event.
    """

    cutoff_date: str
    horizon_days: int
    customer_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    customer_factors: np.ndarray
    item_factors: np.ndarray
    item_bias: np.ndarray
    relevant_items: dict[str, list[str]]
    per_customer: pd.DataFrame
    churn_driver_signs: dict[str, int]
    churn_null_fields: tuple[str, ...]
    category_propensity: dict[str, Any]
    industry_favourite_category: dict[str, str]
    cold_start_customers: tuple[str, ...]
    new_items: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def affinity(self) -> np.ndarray:
        """Planted affinity, ``customer_factors @ item_factors.T + item_bias``."""
        return self.customer_factors @ self.item_factors.T + self.item_bias[None, :]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data (NaN and infinity become None)."""
        per = {col: [_plain(v) for v in self.per_customer[col].tolist()]
               for col in self.per_customer.columns}
        return {
            "cutoff_date": self.cutoff_date,
            "horizon_days": self.horizon_days,
            "customer_ids": list(self.customer_ids),
            "item_ids": list(self.item_ids),
            "customer_factors": np.round(self.customer_factors, 6).tolist(),
            "item_factors": np.round(self.item_factors, 6).tolist(),
            "item_bias": np.round(self.item_bias, 6).tolist(),
            "relevant_items": self.relevant_items,
            "per_customer": per,
            "churn_driver_signs": self.churn_driver_signs,
            "churn_null_fields": list(self.churn_null_fields),
            "category_propensity": self.category_propensity,
            "industry_favourite_category": self.industry_favourite_category,
            "cold_start_customers": list(self.cold_start_customers),
            "new_items": list(self.new_items),
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DemoTruth:
        """Inverse of ``to_dict``."""
        per = pd.DataFrame(data["per_customer"])
        for col in ("monthly_hazard", "churn_probability", "dissatisfaction", "propensity_share"):
            per[col] = per[col].astype(float)
        return cls(
            cutoff_date=data["cutoff_date"],
            horizon_days=int(data["horizon_days"]),
            customer_ids=tuple(data["customer_ids"]),
            item_ids=tuple(data["item_ids"]),
            customer_factors=np.asarray(data["customer_factors"], dtype=float),
            item_factors=np.asarray(data["item_factors"], dtype=float),
            item_bias=np.asarray(data["item_bias"], dtype=float),
            relevant_items={k: list(v) for k, v in data["relevant_items"].items()},
            per_customer=per,
            churn_driver_signs={k: int(v) for k, v in data["churn_driver_signs"].items()},
            churn_null_fields=tuple(data["churn_null_fields"]),
            category_propensity=dict(data["category_propensity"]),
            industry_favourite_category=dict(data["industry_favourite_category"]),
            cold_start_customers=tuple(data["cold_start_customers"]),
            new_items=tuple(data["new_items"]),
            extra=dict(data.get("extra", {})),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def build_truth(config: DemoConfig, space: LatentSpace, customers: CustomerDraw,
                items: ItemDraw, churn: ChurnDraw) -> DemoTruth:
    """Collect the planted quantities into a ``DemoTruth``."""
    cids = tuple(customers.frame["customer_id"].tolist())
    iids = tuple(items.frame["item_id"].tolist())
    aff = affinity(customers, items)

    available = items.frame["available"].to_numpy(dtype=bool)
    ranked = np.where(available[None, :], aff, -np.inf)
    k = min(config.relevant_k, int(available.sum()))
    top = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    item_arr = np.asarray(iids, dtype=object)
    relevant = {cid: item_arr[row].tolist() for cid, row in zip(cids, top, strict=True)}

    category = space.favourite[config.propensity_industry]
    in_cat = np.array([category in cats for cats in items.frame["categories"]])
    share = purchase_probabilities(config, customers, items) @ in_cat.astype(float)

    span = (config.end_date - config.start_date).days + 1
    cutoff_day = span - config.horizon_days
    active = (~customers.is_cold) & (customers.signup_day < cutoff_day) & (
        churn.churn_day > cutoff_day)
    churned = active & np.isfinite(churn.churn_day)
    churn_date = [None if not math.isfinite(d) else
                  (config.start_date + dt.timedelta(days=math.floor(d))).isoformat()
                  for d in churn.churn_day]
    per = pd.DataFrame({
        "customer_id": list(cids),
        "monthly_hazard": churn.monthly_hazard,
        "churn_probability": churn.horizon_probability(config.horizon_days),
        "churn_date": churn_date,
        "active_at_cutoff": active,
        "churned": churned,
        "dissatisfaction": customers.dissatisfaction,
        "propensity_share": share,
    })
    return DemoTruth(
        cutoff_date=config.cutoff_date.isoformat(),
        horizon_days=config.horizon_days,
        customer_ids=cids,
        item_ids=iids,
        customer_factors=customers.factors,
        item_factors=items.factors,
        item_bias=items.bias,
        relevant_items=relevant,
        per_customer=per,
        churn_driver_signs=dict(DRIVER_SIGNS),
        churn_null_fields=NULL_FIELDS,
        category_propensity={"category": category, "field": "industry",
                             "value": config.propensity_industry, "sign": 1,
                             "horizon_days": config.horizon_days},
        industry_favourite_category=dict(space.favourite),
        cold_start_customers=tuple(np.asarray(cids, dtype=object)[customers.is_cold].tolist()),
        new_items=tuple(item_arr[items.is_new].tolist()),
    )
