"""Business words for need inputs: a field or behaviour column and its value, as people say it.

Reasons and reports name the customer field (``contract = month-to-month``,
``newsletter = yes``, ``signup_date = 120 days ago``) or the behaviour in words
(``days since last purchase = 42``, ``share of purchases in garden = 30%``), never a raw
feature column (``recency_purchase_days``, ``contract = month-to-month is missing``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tailorcrm.needs.model import NeedModel

PP = "percentage points"
"""The unit of a reason's ``delta`` for yes/no needs: probability change × 100."""

BEHAVIOUR_LABELS = {
    "recency_any_days": "days since last activity",
    "tenure_days": "days as a customer",
    "events_total": "events so far",
    "recency_purchase_days": "days since last purchase",
    "frequency": "purchase days",
    "purchases_total": "purchases",
    "monetary": "total spend",
    "avg_order_value": "average order value",
    "purchase_gap_days": "usual days between purchases",
    "recency_to_gap": "days since last purchase ÷ usual gap",
    "returns": "returns",
    "return_rate": "return rate",
    "service_tickets": "service tickets",
    "feedback_count": "feedback given",
    "feedback_mean": "average feedback score",
}
_SHARES = ("return_rate",)
_RECENT = re.compile(r"^purchases_last_(\d+)d$")


def field_kinds(model: NeedModel) -> dict[str, str]:
    """``{column: kind}`` of a fitted model's inputs (number, boolean, category, ...)."""
    return {s.column: s.kind for s in model.builder_.sources_}


def _slug(text: str) -> str:
    keep = "".join(ch.lower() if ch.isalnum() else "_" for ch in str(text))
    return "_".join(part for part in keep.split("_") if part)[:40] or "category"


def behaviour_label(column: str, categories: list[str] | None = None) -> str:
    """A behaviour column in words; the column itself when it is not a known one."""
    if column in BEHAVIOUR_LABELS:
        return BEHAVIOUR_LABELS[column]
    recent = _RECENT.match(column)
    if recent:
        return f"orders in the last {recent.group(1)} days"
    if column.startswith("share_"):
        slug = column.removeprefix("share_")
        name = next((c for c in categories or [] if _slug(c) == slug), slug.replace("_", " "))
        return f"share of purchases in {name}"
    return column.replace("_", " ")


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def describe(column: str, value: Any, kind: str | None,
             categories: list[str] | None = None) -> tuple[str, str]:
    """``(label, subject)`` of one input: its name in words and ``name = value``."""
    if kind == "behaviour" or kind is None:
        label = behaviour_label(column, categories)
        if value is None:
            return label, f"{label} unknown"
        if column in _SHARES or column.startswith("share_"):
            return label, f"{label} = {float(value):.0%}"
        number = round(float(value)) if column.endswith("_days") else float(value)
        return label, f"{label} = {_number(number)}"
    if value is None or value == "(missing)":
        return column, f"{column} not given"
    if kind == "boolean":
        return column, f"{column} = {'yes' if value else 'no'}"
    if kind == "date":
        return column, f"{column} = {_number(round(float(value)))} days ago"
    if kind == "list":
        items = [str(v) for v in value] if isinstance(value, list) else []
        return column, f"{column} = {', '.join(items[:3]) if items else 'none'}"
    if kind == "text":
        text = str(value).strip()
        short = text if len(text) <= 40 else text[:37] + "..."
        return column, f"{column} = '{short}'" if text else f"{column} empty"
    if kind == "number":
        return column, f"{column} = {_number(float(value))}"
    return column, f"{column} = {value}"
