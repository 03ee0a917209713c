"""What a rule sees: plain views of items and customers built from a Dataset and stored scores."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset

ItemView = dict[str, Any]
"""``item_id``, ``title``, ``categories``, ``category`` (first or None), ``price``,
``available`` and every custom item attribute, as plain Python values."""


def _plain(value: Any) -> Any:
    """Python scalars/lists for pandas/NumPy cells (NaN and NaT become None)."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    return value


def _categories(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def item_views(items: pd.DataFrame) -> dict[str, ItemView]:
    """One view per item of a Dataset's ``items`` frame, keyed by ``item_id``."""
    views: dict[str, ItemView] = {}
    columns = list(items.columns)
    for item_id, row in zip(items.index, items.itertuples(index=False, name=None), strict=True):
        view: ItemView = {"item_id": str(item_id)}
        for name, value in zip(columns, row, strict=True):
            view[str(name)] = _plain(value)
        cats = _categories(view.get("categories"))
        view["categories"] = cats
        view["category"] = cats[0] if cats else None
        view.setdefault("title", None)
        view.setdefault("price", None)
        view["available"] = bool(view.get("available", True)) if view.get(
            "available") is not None else True
        views[str(item_id)] = view
    return views


@dataclass(frozen=True)
class RuleContext:
    """Everything except the item: the customer, their segments and needs, the request.

    Attributes
    ----------
    customer:
        Customer fields and custom attributes, plus ``customer_id``, ``segments`` (a map
        segmentation → segment) and ``segment`` (the segment of the first segmentation).
    needs:
        Need name → score for this customer.
    segments:
        Segmentation → segment (also reachable as ``customer.segments``).
    context:
        The request context (channel, page, basket, ...), whatever the caller passes.
    """

    customer: Mapping[str, Any] = field(default_factory=dict)
    needs: Mapping[str, float] = field(default_factory=dict)
    segments: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    def variables(self) -> dict[str, Any]:
        """Plain-Python values of the non-item rule variables."""
        return {"customer": dict(self.customer), "needs": dict(self.needs),
                "segments": dict(self.segments), "context": dict(self.context)}


def customer_view(data: Dataset, customer_id: str,
                  segments: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``customer`` variable for ``customer_id`` (only ids and segments if unknown)."""
    view: dict[str, Any] = {"customer_id": str(customer_id)}
    if customer_id in data.customers.index:
        row = data.customers.loc[customer_id]
        for name, value in row.items():
            view[str(name)] = _plain(value)
    segs = {str(k): str(v) for k, v in (segments or {}).items()}
    view["segments"] = segs
    view.setdefault("segment", next(iter(segs.values()), None))
    return view


def rule_context(data: Dataset, customer_id: str, *,
                 segments: Mapping[str, str] | None = None,
                 needs: Mapping[str, float] | None = None,
                 context: Mapping[str, Any] | None = None) -> RuleContext:
    """A :class:`RuleContext` for one customer of ``data``."""
    segs = dict(segments or {})
    return RuleContext(customer=customer_view(data, customer_id, segs),
                       needs={str(k): float(v) for k, v in (needs or {}).items()},
                       segments=segs, context=dict(context or {}))
