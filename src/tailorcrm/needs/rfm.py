"""RFM: recency, frequency and monetary value per customer, quintile scores and named segments."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.data.dataset import Dataset
from tailorcrm.needs.behaviour import event_amounts
from tailorcrm.needs.definitions import as_utc

logger = logging.getLogger(__name__)

SEGMENTATION = "rfm"
"""Name of the stored segmentation (``store.segments``) RFM segments go to."""
NO_PURCHASES = "no_purchases"
"""Segment of customers with no purchase before the reference date (they get no scores)."""

# The 11 named segments on the R × FM grid (FM = F and M averaged, rounded half up), after
# Putler, "RFM Analysis For Successful Customer Segmentation" (putler.com/rfm-analysis), whose
# table gives each segment a range of R and of F/M scores. Those ranges overlap; each cell
# below takes the first segment of that table whose ranges hold it, except that the recent,
# low-FM corner goes to "new customers" / "promising" as the table's descriptions say.
# Rows: R = 5 (bought most recently) down to 1; columns: FM = 1 .. 5.
RFM_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new_customers", "potential_loyalists", "loyal_customers", "champions", "champions"),
    4: ("promising", "potential_loyalists", "loyal_customers", "champions", "champions"),
    3: ("about_to_sleep", "need_attention", "need_attention", "loyal_customers",
        "loyal_customers"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "at_risk"),
    1: ("lost", "lost", "at_risk", "cant_lose_them", "cant_lose_them"),
}
SEGMENT_LABELS: dict[str, str] = {
    "champions": "Champions", "loyal_customers": "Loyal customers",
    "potential_loyalists": "Potential loyalists", "new_customers": "New customers",
    "promising": "Promising", "need_attention": "Need attention",
    "about_to_sleep": "About to sleep", "at_risk": "At risk",
    "cant_lose_them": "Can't lose them", "hibernating": "Hibernating", "lost": "Lost",
    NO_PURCHASES: "No purchases",
}
SEGMENT_ORDER: tuple[str, ...] = tuple(SEGMENT_LABELS)


class RFMConfig(BaseModel):
    """Which events count, and where money comes from.

    The money of a purchase is its ``amount_column`` (an event attribute such as ``amount``)
    when the events carry one and it is set, else quantity (``value``, 1 when missing) × item
    price (1 when unknown), as in :func:`tailorcrm.needs.behaviour.event_amounts`.
    Monetary is purchases minus returns, floored at 0. Frequency counts distinct purchase days
    (one basket a day), as the behavioural features do.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    purchase_types: tuple[str, ...] = ("purchase",)
    return_types: tuple[str, ...] = ("return",)
    amount_column: str = "amount"


class RFMCell(BaseModel):
    """One cell of the R × F grid."""

    model_config = ConfigDict(extra="forbid")

    r: int
    f: int
    n: int
    mean_monetary: float | None


class RFMSegmentStats(BaseModel):
    """Size and averages of one named RFM segment."""

    model_config = ConfigDict(extra="forbid")

    segment: str
    label: str
    n: int
    share: float
    mean_recency_days: float | None
    mean_frequency: float
    mean_monetary: float


class RFMSummary(BaseModel):
    """The RFM figures of a tenant at a reference date, as the report shows them."""

    model_config = ConfigDict(extra="forbid")

    reference: str
    n_customers: int
    n_scored: int
    grid: list[RFMCell] = Field(default_factory=list)
    segments: list[RFMSegmentStats] = Field(default_factory=list)


def quintile_scores(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """Scores 1–5 by quintile of rank; equal values always share a score.

    A value's score is ``1 + floor(5 · (r − 1) / n)`` with ``r`` its ``min`` rank (the rank
    of the first of its ties), so ties take the score of where they start, whatever the
    order of the rows. ``pd.qcut`` cannot do this: it fails on repeated bin edges.
    """
    n = len(values)
    if n == 0:
        return pd.Series([], index=values.index, dtype=np.int64)
    keyed = values if higher_is_better else -values
    rank = keyed.rank(method="min").to_numpy(dtype=np.float64)
    scores = 1 + np.floor(5.0 * (rank - 1.0) / n).astype(np.int64)
    return pd.Series(np.clip(scores, 1, 5), index=values.index, dtype=np.int64)


def segment_of(r: int, fm: int) -> str:
    """The named segment of an R score and an FM score (both 1–5)."""
    return RFM_GRID[int(r)][int(fm) - 1]


def _amounts(data: Dataset, events: pd.DataFrame, column: str) -> np.ndarray:
    base = event_amounts(data, events)
    if column in events.columns:
        given = pd.to_numeric(events[column], errors="coerce").to_numpy(dtype=np.float64)
        base = np.where(np.isnan(given), base, given)
    return base


def default_reference(data: Dataset) -> pd.Timestamp:
    """The day after the last event (midnight UTC): every event counts, recency ≥ 1 day."""
    if data.events.empty:
        return pd.Timestamp.now(tz="UTC").normalize()
    return as_utc(data.events["ts"].max()).normalize() + pd.Timedelta(days=1)


def rfm_table(
    data: Dataset,
    reference: dt.datetime | pd.Timestamp | None = None,
    config: RFMConfig | None = None,
) -> pd.DataFrame:
    """RFM values, scores and segment of every customer at ``reference``.

    Only events strictly before ``reference`` are read.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (every row of ``data.customers``; events of other ids,
        such as anonymous shoppers, are left out unless the customer table is empty): columns
        ``recency_days`` (NaN without purchases), ``frequency``, ``monetary``, scores ``r``,
        ``f``, ``m``, ``fm`` (0 without purchases), ``rfm`` (e.g. ``"545"``) and ``segment``.
    """
    cfg = config or RFMConfig()
    ref = default_reference(data) if reference is None else as_utc(reference)
    ev = data.events[data.events["ts"] < ref]
    known = pd.Index(data.customers.index.astype(str))
    if len(known):  # customers are the customer table's rows (not anonymous shoppers)
        ev = ev[ev["customer_id"].astype(str).isin(known)]
    buys = ev[ev["type"].isin(list(cfg.purchase_types))]
    rets = ev[ev["type"].isin(list(cfg.return_types))]
    bid = buys["customer_id"].astype(str)
    money = pd.Series(_amounts(data, buys, cfg.amount_column), index=buys.index).groupby(bid).sum()
    if len(rets):
        back = np.abs(_amounts(data, rets, cfg.amount_column))
        money = money.sub(pd.Series(back, index=rets.index)
                          .groupby(rets["customer_id"].astype(str)).sum(), fill_value=0.0)
    buyers = pd.Index(sorted(pd.unique(bid)), name="customer_id")
    everyone = buyers.union(known).rename("customer_id")
    out = pd.DataFrame(index=everyone)
    last = buys.groupby(bid)["ts"].max()
    out["recency_days"] = ((ref - last).dt.total_seconds() / 86400.0).reindex(everyone)
    days = buys["ts"].dt.floor("D").groupby(bid).nunique()
    out["frequency"] = days.reindex(everyone, fill_value=0).astype(float)
    out["monetary"] = money.reindex(everyone, fill_value=0.0).clip(lower=0.0).astype(float)
    scored = out.index.isin(buyers)
    for col in ("r", "f", "m", "fm"):
        out[col] = 0
    part = out.loc[scored]
    out.loc[scored, "r"] = quintile_scores(part["recency_days"], higher_is_better=False)
    out.loc[scored, "f"] = quintile_scores(part["frequency"])
    out.loc[scored, "m"] = quintile_scores(part["monetary"])
    out["fm"] = np.floor((out["f"] + out["m"]) / 2.0 + 0.5).astype(np.int64)
    out["rfm"] = (out["r"].astype(str) + out["f"].astype(str) + out["m"].astype(str))
    out.loc[~scored, "rfm"] = ""
    out["segment"] = [segment_of(r, fm) if ok else NO_PURCHASES
                      for r, fm, ok in zip(out["r"], out["fm"], scored, strict=True)]
    logger.info("RFM at %s: %d customers, %d with purchases", ref.date(), len(out), len(buyers))
    out.attrs["reference"] = ref.isoformat()
    return out


def rfm_summary(table: pd.DataFrame) -> RFMSummary:
    """Grid counts (R × F) and segment sizes of an :func:`rfm_table`."""
    scored = table[table["r"] > 0]
    cells: list[RFMCell] = []
    for r in range(5, 0, -1):
        for f in range(1, 6):
            part = scored[(scored["r"] == r) & (scored["f"] == f)]
            cells.append(RFMCell(r=r, f=f, n=len(part),
                                 mean_monetary=float(part["monetary"].mean()) if len(part)
                                 else None))
    segs: list[RFMSegmentStats] = []
    for name in SEGMENT_ORDER:
        part = table[table["segment"] == name]
        if part.empty:
            continue
        rec = part["recency_days"].dropna()
        segs.append(RFMSegmentStats(
            segment=name, label=SEGMENT_LABELS[name], n=len(part), share=len(part) / len(table),
            mean_recency_days=float(rec.mean()) if len(rec) else None,
            mean_frequency=float(part["frequency"].mean()),
            mean_monetary=float(part["monetary"].mean())))
    return RFMSummary(reference=str(table.attrs.get("reference", "")), n_customers=len(table),
                      n_scored=len(scored), grid=cells, segments=segs)
