"""Per need: the drivers of its model and the customers to act on first (score × value).

**Drivers** are the fields the active model leans on most: each field's mean absolute
contribution (log-odds, or amount for spend) over the scored customers, as a share of all
fields' together, with the direction in words ("higher raises it", "month-to-month raises it
most"). When the baseline is in use (the model did not beat it), the one driver is what the
baseline reads.

**Customers to act on first** rank the stored scores by ``priority = score × value``, with
``value`` the customer's spend so far (RFM monetary: purchases minus returns); a customer
with no spend yet counts with value 1 so the score alone ranks them. For a spend need the
score is money already and the priority is the score. The whole ranking is exportable as CSV
(:func:`write_csv`); the report shows the first rows.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from tailorcrm.needs.reasons import grouped_contributions
from tailorcrm.needs.wording import behaviour_label, field_kinds

if TYPE_CHECKING:
    from tailorcrm.data.dataset import Dataset
    from tailorcrm.needs.model import NeedModel

CSV_COLUMNS = ("need", "rank", "customer_id", "score", "value", "priority", "source",
               "model_version", "top_reason")


class Driver(BaseModel):
    """One field's weight in a need model."""

    model_config = ConfigDict(extra="forbid")

    field: str
    label: str
    share: float
    direction: str = ""


class ActRow(BaseModel):
    """One customer to act on for one need."""

    model_config = ConfigDict(extra="forbid")

    rank: int
    customer_id: str
    score: float
    value: float
    priority: float
    source: str
    top_reason: str = ""


class NeedActions(BaseModel):
    """A need's drivers and its first customers to act on, and which scorer is in use."""

    model_config = ConfigDict(extra="forbid")

    need: str
    in_use: str
    """``model`` or ``baseline`` (the model did not beat it)."""
    drivers: list[Driver]
    customers: list[ActRow]
    n_scored: int


def model_drivers(model: NeedModel, frame: pd.DataFrame, *, top: int = 5) -> list[Driver]:
    """The ``top`` fields by mean absolute contribution over ``frame``'s customers."""
    grouped, _ = grouped_contributions(model, frame)
    weight = grouped.abs().mean(axis=0)
    total = float(weight.sum()) or 1.0
    kinds = field_kinds(model)
    out = []
    for col in weight.sort_values(ascending=False).index[:top]:
        kind = kinds.get(col)
        label = (behaviour_label(col, model.categories_) if kind in (None, "behaviour")
                 else col)
        out.append(Driver(field=col, label=label, share=float(weight[col]) / total,
                          direction=_direction(frame, grouped[col], col, kind)))
    return out


def _direction(frame: pd.DataFrame, contrib: pd.Series, col: str, kind: str | None) -> str:
    if col not in frame.columns:
        return ""
    values = frame[col]
    if kind in ("category", "boolean"):
        means = contrib.groupby(values.astype(str).to_numpy()).mean()
        if means.empty:
            return ""
        best = str(means.idxmax())
        best = {"1.0": "yes", "0.0": "no"}.get(best, best) if kind == "boolean" else best
        return f"{best} raises it most"
    numeric = pd.to_numeric(values, errors="coerce")
    ok = numeric.notna().to_numpy()
    if ok.sum() < 3 or np.std(numeric[ok]) == 0 or np.std(contrib[ok]) == 0:
        return ""
    corr = float(np.corrcoef(numeric[ok], contrib[ok])[0, 1])
    return "higher raises it" if corr > 0 else "higher lowers it"


def ranking(scores: list[Any], values: pd.Series, *, spend: bool = False) -> pd.DataFrame:
    """Stored score records ranked by priority (score × value), as CSV-shaped rows."""
    rows = []
    for r in scores:
        value = float(values.get(r.customer_id, 0.0) or 0.0)
        priority = float(r.score) if spend else float(r.score) * (value if value > 0 else 1.0)
        reason = r.reasons[0].get("text", "") if r.reasons else ""
        rows.append((r.need, r.customer_id, float(r.score), value, priority, r.source,
                     r.model_version, reason))
    frame = pd.DataFrame(rows, columns=[c for c in CSV_COLUMNS if c != "rank"])
    frame = frame.sort_values(["priority", "customer_id"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    frame.insert(1, "rank", np.arange(1, len(frame) + 1))
    return frame


def need_actions(need: str, frame: pd.DataFrame, drivers: list[Driver], *, rows: int = 20,
                 ) -> NeedActions:
    """The report's part for one need from its ranking and drivers."""
    in_use = "baseline" if (frame["source"] == "baseline").any() else "model"
    customers = [ActRow(rank=int(r["rank"]), customer_id=str(r["customer_id"]),
                        score=float(r["score"]), value=float(r["value"]),
                        priority=float(r["priority"]), source=str(r["source"]),
                        top_reason=str(r["top_reason"]))
                 for r in frame.head(rows).to_dict("records")]
    return NeedActions(need=need, in_use=in_use, drivers=drivers, customers=customers,
                       n_scored=len(frame))


def sample_frame(model: NeedModel, data: Dataset, *, n: int = 2000, seed: int = 0,
                 ) -> pd.DataFrame:
    """Present-day features of up to ``n`` customers (for drivers), a fixed random sample."""
    ids = pd.Index(data.customers.index.astype(str), name="customer_id")
    if len(ids) > n:
        ids = pd.Index(np.random.default_rng(seed).choice(ids.to_numpy(), n, replace=False),
                       name="customer_id")
    return model.frame(data, ids, None)


def write_csv(frames: list[pd.DataFrame], path: str | Path) -> int:
    """Write every need's ranking to one CSV (columns :data:`CSV_COLUMNS`); rows written."""
    out = Path(path)
    n = 0
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for frame in frames:
            for row in frame[list(CSV_COLUMNS)].itertuples(index=False):
                writer.writerow(row)
                n += 1
    return n
