"""What a rule sees: plain views of items and customers built from a Dataset and stored scores.

Rules read attributes through :func:`bounded_fields`: an attribute whose strings hold more
than ``attribute_chars`` characters in all, or whose lists and maps hold more than
``attribute_items`` entries at any depth, is replaced by :class:`Unavailable`, and a rule
that reads it fails safe (``reason="budget"``, ``limit="attribute"``). Truncating instead
would change answers silently (``'x' in customer.tags`` false because ``x`` was cut off).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset

if TYPE_CHECKING:
    from tailorcrm.customize.budget import RuleLimits

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


@dataclass(frozen=True)
class Unavailable:
    """Stands for an attribute too large for rules; reading it fails the rule safely."""

    name: str
    why: str

    def __repr__(self) -> str:
        return f"<{self.name}: unavailable to rules, {self.why}>"


def oversize(value: Any, max_chars: int, max_items: int) -> str | None:
    """Why ``value`` is too large for rules (None when it is not); stops early."""
    chars = items = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str | bytes):
            chars += len(node)
            if chars > max_chars:
                return f"more than {max_chars:,} characters"
        elif isinstance(node, Mapping):
            items += len(node)
            stack.extend(node.values())
        elif isinstance(node, list | tuple | set | frozenset | np.ndarray):
            items += len(node)
            if isinstance(node, np.ndarray) and node.dtype.kind not in "OUS":
                continue
            stack.extend(node)
        if items > max_items:
            return f"more than {max_items:,} entries"
    return None


def bounded_fields(view: Mapping[str, Any], limits: RuleLimits, prefix: str = ""
                   ) -> dict[str, Any]:
    """``view`` with every field too large for rules replaced by :class:`Unavailable`."""
    out: dict[str, Any] = {}
    for name, value in view.items():
        if isinstance(value, str | bytes | Mapping | list | tuple | set | frozenset
                      | np.ndarray):
            why = oversize(value, limits.attribute_chars, limits.attribute_items)
            if why is not None:
                value = Unavailable(f"{prefix}{name}", why)
        out[name] = value
    return out


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
    need_sources:
        Need name → ``model`` or ``baseline`` (the need's model did not beat its baseline,
        so the score is the baseline's); not a rule variable, shown in action reasons.
    """

    customer: Mapping[str, Any] = field(default_factory=dict)
    needs: Mapping[str, float] = field(default_factory=dict)
    segments: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    need_sources: Mapping[str, str] = field(default_factory=dict)

    def variables(self, limits: RuleLimits | None = None) -> dict[str, Any]:
        """Plain-Python values of the non-item rule variables; with ``limits``, fields too
        large for rules are :class:`Unavailable`."""
        plain = {"customer": dict(self.customer), "needs": dict(self.needs),
                 "segments": dict(self.segments), "context": dict(self.context)}
        if limits is None:
            return plain
        return {root: bounded_fields(view, limits, f"{root}.") for root, view in plain.items()}


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
