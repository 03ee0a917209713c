"""Customer groups for need rates: a field's values, quantile bins of a number, or segments."""

from __future__ import annotations

import pandas as pd

from tailorcrm.data.dataset import Dataset
from tailorcrm.schema.fields import FieldType

MISSING_GROUP = "(missing)"
OTHER_GROUP = "(other)"


def default_group_fields(data: Dataset) -> list[str]:
    """Customer fields that make sensible groups: enum, boolean, integer and number fields."""
    kinds = {FieldType.ENUM, FieldType.BOOLEAN, FieldType.INTEGER, FieldType.NUMBER,
             FieldType.STRING}
    return [f.name for f in data.customer_fields if f.type in kinds and not f.pii
            and f.name in data.customers.columns]


def field_groups(column: pd.Series, *, bins: int = 5, max_groups: int = 20) -> pd.Series | None:
    """Group label per customer from one column; numbers with many values become quantile bins.

    Text with more than ``max_groups`` values keeps the most frequent ones and groups the rest
    as ``(other)``. Returns None when the column cannot group (lists, id-like text).
    """
    col = column.copy()
    if col.map(lambda v: isinstance(v, list | tuple | dict)).any():
        return None
    present = col.dropna()
    if present.empty:
        return None
    if pd.api.types.is_bool_dtype(present) or present.map(lambda v: isinstance(v, bool)).all():
        out = col.map(lambda v: MISSING_GROUP if pd.isna(v) else str(bool(v)).lower())
        return out.astype(object)
    numeric = pd.to_numeric(present, errors="coerce")
    if numeric.notna().all() and present.nunique() > max_groups:
        values = pd.to_numeric(col, errors="coerce")
        codes = pd.qcut(values, q=bins, labels=False, duplicates="drop")
        # Label each bin by the smallest and largest value in it (qcut's edges are padded).
        span = values.groupby(codes).agg(["min", "max"])
        names = {code: f"{row['min']:.4g} – {row['max']:.4g}" for code, row in span.iterrows()}
        return codes.map(lambda c: MISSING_GROUP if pd.isna(c) else names[c]).astype(object)
    text = col.map(lambda v: MISSING_GROUP if pd.isna(v) else str(v)).astype(object)
    if present.nunique() > max_groups:
        # Keep the most frequent values, the rest as one group, when they cover most customers
        # (a country); an id-like column (every value rare) cannot group.
        counts = (present.astype(str).value_counts().sort_index()
                  .sort_values(ascending=False, kind="stable"))  # ties by value
        top = counts.index[:max_groups - 1]
        if counts[top].sum() < 0.5 * len(present):
            return None
        text = text.where(text.isin(top) | (text == MISSING_GROUP), OTHER_GROUP)
    return text


def group_order(group: str) -> tuple[int, float, str]:
    """Missing last; groups that start with a number (bins, integer values) by that number."""
    if group in (MISSING_GROUP, OTHER_GROUP):
        return (2, 0.0, group)
    head = group.split(" – ")[0]
    try:
        return (0, float(head), group)
    except ValueError:
        return (1, 0.0, group)
