"""Per-customer reasons: signed contributions per field, in the model's space and in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from tailorcrm.needs.definitions import ChurnNeed, SpendNeed
from tailorcrm.needs.model import NeedModel
from tailorcrm.needs.wording import PP, describe, field_kinds


class Reason(BaseModel):
    """One field's push on one customer's score.

    ``contribution`` is in the model's raw space (log-odds, or the amount for spend): all of
    a customer's contributions plus the bias sum to the raw score. ``delta`` is the change
    of the calibrated probability (or amount) when this contribution is taken away, in
    ``unit``: ``"percentage points"`` (probability × 100) for yes/no needs, ``"amount"``
    for spend. ``feature`` is the customer field or behaviour column; ``label`` its name in
    words (``days since last purchase``), and ``text`` the whole sentence
    (``contract = month-to-month raises churn risk by 4.2 percentage points``).
    """

    model_config = ConfigDict(extra="forbid")

    feature: str
    value: Any
    contribution: float
    delta: float
    text: str
    label: str = ""
    unit: str = PP


def grouped_contributions(model: NeedModel, frame: pd.DataFrame,
                          ) -> tuple[pd.DataFrame, pd.Series]:
    """Contributions summed per source field / behaviour column, and the bias.

    One-hot, multi-hot, TF-IDF and missing-flag columns fold back onto their field, so
    "contract" carries the push of all ``contract = ...`` inputs. Row sums + bias equal
    ``model.raw(frame)``.
    """
    contrib, bias = model.contributions(frame)
    columns = [s.column for s in model.builder_.sources_]
    grouped = contrib.T.groupby(np.asarray(columns), sort=False).sum().T
    return grouped, bias


def _display(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else round(float(value), 2)
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _phrase(model: NeedModel) -> str:
    need = model.need
    if isinstance(need, ChurnNeed) or "churn" in need.name:
        return "churn risk"
    if isinstance(need, SpendNeed):
        return "expected spend"
    return f"chance of {need.name.replace('_', ' ')}"


def phrase(model: NeedModel) -> str:
    """What a need's score is, in words: ``churn risk``, ``chance of buys again``."""
    return _phrase(model)


def explain(model: NeedModel, frame: pd.DataFrame, *, top: int = 3,
            ) -> dict[str, list[Reason]]:
    """The ``top`` reasons (by absolute contribution) of each customer in ``frame``.

    Yes/no needs state each reason as the change in probability, in percentage points with
    one decimal; reasons that round to 0.0 are left out, except the largest when all do
    ("by less than 0.1 percentage points"). Spend states the change in the amount.
    """
    grouped, bias = grouped_contributions(model, frame)
    values = grouped.to_numpy()
    raw = values.sum(axis=1) + bias.to_numpy()
    binary = model.need.task == "binary"
    what = _phrase(model)
    names = list(grouped.columns)
    k = min(top, values.shape[1])
    order = np.argsort(-np.abs(values), axis=1)[:, :k]
    picked = np.take_along_axis(values, order, axis=1)
    if binary:  # probability change when each picked contribution is taken away
        p_now = model.calibrator_(raw)
        without = model.calibrator_((raw[:, None] - picked).ravel()).reshape(picked.shape)
        deltas = 100.0 * (p_now[:, None] - without)
    else:
        deltas = picked
    shown = {c: frame[c].tolist() for c in names if c in frame.columns}
    kinds = field_kinds(model)
    out: dict[str, list[Reason]] = {}
    for i, customer_id in enumerate(grouped.index):
        reasons: list[Reason] = []
        for j in range(k):
            c, delta = float(picked[i, j]), float(deltas[i, j])
            if c == 0.0 or (reasons and round(abs(delta), 1) == 0.0):
                continue
            col = names[order[i, j]]
            value = _display(shown[col][i]) if col in shown else None
            label, subject = describe(col, value, kinds.get(col), model.categories_)
            reasons.append(Reason(feature=col, value=value, contribution=c, delta=delta,
                                  label=label, unit=PP if binary else "amount",
                                  text=f"{subject} {_change(delta, what, binary)}"))
        out[str(customer_id)] = reasons
    return out


def _change(delta: float, what: str, binary: bool) -> str:
    verb = "raises" if delta >= 0 else "lowers"
    if not binary:
        return f"{verb} {what} by {abs(delta):,.2f}"
    amount = round(abs(delta), 1)
    if amount == 0.0:
        return f"{verb} {what} by less than 0.1 {PP}"
    return f"{verb} {what} by {amount:.1f} {PP}"
