"""Need rates P(x) = N(x)/N overall, per segment and per cut-off month, with intervals."""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError, ValidationError
from tailorcrm.needs.cutoffs import data_end
from tailorcrm.needs.groups import (
    MISSING_GROUP,
    OTHER_GROUP,
    default_group_fields,
    field_groups,
    group_order,
)

logger = logging.getLogger(__name__)

# statsmodels is not a dependency; scipy's binomtest gives the same Wilson score interval.
RATE_CI_METHOD = "wilson score interval (scipy.stats.binomtest.proportion_ci)"
MEAN_CI_METHOD = "student t interval on the mean (scipy.stats.t)"


SegmentSource = pd.Series | Callable[[pd.Timestamp | None], pd.Series]
"""A segmentation: segment per ``customer_id``, or a function of the cut-off giving it."""


@runtime_checkable
class NeedLike(Protocol):
    """What the analysis needs of a need definition (see ``tailorcrm.needs.definitions``)."""

    name: str

    def labels(self, data: Dataset, cutoff: pd.Timestamp | None) -> pd.Series:
        """Label per customer (index ``customer_id``) at ``cutoff``; NaN where unknown."""
        ...


class AnalysisConfig(BaseModel):
    """How needs are broken down.

    ``by_fields`` None means every customer field of type enum, boolean, integer or number
    (numbers with more than ``max_groups`` distinct values are cut into ``numeric_bins``
    quantile bins); list and text fields are skipped.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    by_fields: tuple[str, ...] | None = None
    numeric_bins: int = Field(5, ge=2, le=20)
    max_groups: int = Field(20, ge=2)
    monthly: bool = True
    max_months: int = Field(24, ge=1, description="Most recent cut-off months analysed.")


class Estimate(BaseModel):
    """P(x) = N(x)/N with its interval, or the mean of a regression need with its interval."""

    model_config = ConfigDict(extra="forbid")

    n: int
    n_positive: int | None = None  # N(x); None for a regression (mean) need
    value: float
    ci_low: float | None
    ci_high: float | None


class GroupEstimate(Estimate):
    """An estimate within one group (segment) of customers."""

    group: str


class MonthEstimate(Estimate):
    """An estimate at one cut-off (first day of ``month``, ``YYYY-MM``)."""

    month: str


class NeedAnalysis(BaseModel):
    """Everything the analysis says about one need; serialises to JSON as is."""

    model_config = ConfigDict(extra="forbid")

    need: str
    kind: Literal["rate", "mean"]
    ci_method: str
    confidence: float
    cutoff: str | None
    overall: Estimate
    by_segment: dict[str, list[GroupEstimate]] = Field(default_factory=dict)
    by_month: list[MonthEstimate] = Field(default_factory=list)


# -- estimates ----------------------------------------------------------------------------
def rate_estimate(n_positive: int, n: int, confidence: float = 0.95) -> Estimate:
    """P(x) = N(x)/N with a Wilson score interval."""
    if n <= 0:
        raise InsufficientDataError("a rate needs at least one labelled customer")
    ci = stats.binomtest(int(n_positive), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson")
    return Estimate(n=int(n), n_positive=int(n_positive), value=n_positive / n,
                    ci_low=float(ci.low), ci_high=float(ci.high))


def mean_estimate(values: np.ndarray, confidence: float = 0.95) -> Estimate:
    """Mean of a regression need with a t interval (no interval from a single value)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        raise InsufficientDataError("a mean needs at least one labelled customer")
    mean = float(values.mean())
    if n < 2:
        return Estimate(n=n, value=mean, ci_low=None, ci_high=None)
    sem = float(values.std(ddof=1)) / math.sqrt(n)
    if sem == 0.0:
        return Estimate(n=n, value=mean, ci_low=mean, ci_high=mean)
    low, high = stats.t.interval(confidence, df=n - 1, loc=mean, scale=sem)
    return Estimate(n=n, value=mean, ci_low=float(low), ci_high=float(high))


def _is_binary(labels: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(labels):
        return True
    values = labels.astype(float).to_numpy()
    return bool(np.isin(values, [0.0, 1.0]).all())


def _estimate(labels: pd.Series, kind: str, confidence: float) -> Estimate:
    if kind == "rate":
        return rate_estimate(int(labels.astype(float).sum()), len(labels), confidence)
    return mean_estimate(labels.to_numpy(dtype=np.float64), confidence)


def _by_group(labels: pd.Series, groups: pd.Series, kind: str,
              confidence: float) -> list[GroupEstimate]:
    aligned = groups.reindex(labels.index).fillna(MISSING_GROUP).astype(str)
    out: list[GroupEstimate] = []
    for name, part in labels.groupby(aligned, sort=True):
        est = _estimate(part, kind, confidence)
        out.append(GroupEstimate(group=str(name), **est.model_dump()))
    return sorted(out, key=lambda g: group_order(g.group))


# -- cut-offs -----------------------------------------------------------------------------
def _horizon(need: NeedLike) -> int | None:
    if getattr(need, "derived", True) is False:
        return None
    value = getattr(need, "horizon_days", None)
    return int(value) if value else None


def _labels(need: NeedLike, data: Dataset, cutoff: pd.Timestamp | None) -> pd.Series:
    """The need's labels, without its training-size check when it has one (rare needs are
    still worth a rate)."""
    if "check" in inspect.signature(need.labels).parameters:
        return need.labels(data, cutoff, check=False)  # type: ignore[call-arg]
    return need.labels(data, cutoff)


def month_cutoffs(data: Dataset, horizon_days: int, max_months: int = 24) -> list[pd.Timestamp]:
    """First days of months after the first event whose horizon ends before the last event."""
    ts = data.events["ts"]
    if ts.empty:
        return []
    first, last = ts.min(), ts.max()
    start = (first + pd.offsets.MonthBegin(1)).normalize()
    end = last - pd.Timedelta(days=horizon_days)
    if start > end:
        return []
    months = pd.date_range(start, end, freq="MS", tz="UTC")
    return list(months[-max_months:])


def default_cutoff(data: Dataset, horizon_days: int) -> pd.Timestamp:
    """The latest cut-off whose whole horizon is covered by the events (the data's end read
    from the event volume, :func:`tailorcrm.needs.cutoffs.data_end`)."""
    if data.events.empty:
        raise InsufficientDataError("no events: a derived need has no cut-off")
    last = data_end(data.events["ts"], horizon_days)
    return (last - pd.Timedelta(days=horizon_days)).normalize()


def _clean_labels(need: NeedLike, labels: pd.Series, data: Dataset) -> pd.Series:
    """Labels of known customers only, as numbers.

    N counts the rows of the customer table: event ids without a customer record (anonymous
    shoppers, e.g. ``anonymous:<invoice>`` from an import) are left out, unless the customer
    table is empty.
    """
    if not isinstance(labels, pd.Series):
        raise ValidationError(f"need {need.name!r}: labels must be a pandas Series")
    labels = labels.dropna()
    labels.index = labels.index.astype(str)
    if len(data.customers):
        known = labels.index.isin(data.customers.index.astype(str))
        if not known.all():
            logger.info("need %r: %d labelled ids are not customers; left out", need.name,
                        int((~known).sum()))
            labels = labels[known]
    if not pd.api.types.is_bool_dtype(labels):
        numeric = pd.to_numeric(labels, errors="coerce")
        if numeric.isna().any():
            raise ValidationError(f"need {need.name!r}: labels are not numeric or boolean")
        labels = numeric
    return labels


# -- the analysis -------------------------------------------------------------------------
def analyze_need(
    data: Dataset,
    need: NeedLike,
    *,
    config: AnalysisConfig | None = None,
    segmentations: Mapping[str, SegmentSource] | None = None,
    cutoff: pd.Timestamp | None = None,
) -> NeedAnalysis:
    """P(x) = N(x)/N of one need overall, per group and per cut-off month.

    Parameters
    ----------
    data:
        The tenant's data set.
    need:
        A need definition (:mod:`tailorcrm.needs.definitions`, or anything with ``name`` and
        ``labels(data, cutoff)``); ``derived`` and ``horizon_days`` mark a need derived from
        events after a cut-off, ``task`` says binary or regression (else read off the labels).
    config:
        Which groupings, the confidence level, the months.
    segmentations:
        Segmentations, each a grouping: name -> segment per ``customer_id``, or a function
        of the cut-off giving it (so a derived need is grouped by segments at its cut-off,
        not by segments that already know the outcome).
    cutoff:
        Cut-off for a derived need; default the latest one whose horizon the events cover.

    Returns
    -------
    NeedAnalysis
        Binary labels give rates with Wilson intervals; other numbers give means with t
        intervals.
    """
    cfg = config or AnalysisConfig()
    horizon = _horizon(need)
    if horizon is not None and cutoff is None:
        cutoff = default_cutoff(data, horizon)
    labels = _clean_labels(need, _labels(need, data, cutoff), data)
    if labels.empty:
        raise InsufficientDataError(f"need {need.name!r} has no labelled customers")
    task = getattr(need, "task", None)
    binary = _is_binary(labels) if task is None else task == "binary"
    kind: Literal["rate", "mean"] = "rate" if binary else "mean"
    result = NeedAnalysis(
        need=need.name, kind=kind, confidence=cfg.confidence,
        ci_method=RATE_CI_METHOD if kind == "rate" else MEAN_CI_METHOD,
        cutoff=None if cutoff is None else pd.Timestamp(cutoff).isoformat(),
        overall=_estimate(labels, kind, cfg.confidence),
    )
    fields = list(cfg.by_fields) if cfg.by_fields is not None else default_group_fields(data)
    for name in fields:
        if name not in data.customers.columns:
            raise ValidationError(f"no customer field {name!r} to group by", field=name)
        groups = field_groups(data.customers[name], bins=cfg.numeric_bins,
                              max_groups=cfg.max_groups)
        if groups is None:
            logger.info("field %r cannot group customers; skipped", name)
            continue
        groups.index = groups.index.astype(str)
        result.by_segment[name] = _by_group(labels, groups, kind, cfg.confidence)
    for name, source in (segmentations or {}).items():
        seg = source(cutoff) if callable(source) else source.copy()
        seg.index = seg.index.astype(str)
        result.by_segment[name] = _by_group(labels, seg, kind, cfg.confidence)
    if horizon is not None and cfg.monthly:
        result.by_month = _by_month(data, need, horizon, kind, cfg)
    return result


def _by_month(data: Dataset, need: NeedLike, horizon: int, kind: str,
              cfg: AnalysisConfig) -> list[MonthEstimate]:
    out: list[MonthEstimate] = []
    for month in month_cutoffs(data, horizon, cfg.max_months):
        try:
            labels = _clean_labels(need, _labels(need, data, month), data)
        except InsufficientDataError as exc:
            logger.info("need %r at %s: %s", need.name, month.date(), exc.message)
            continue
        if labels.empty:
            continue
        est = _estimate(labels, kind, cfg.confidence)
        out.append(MonthEstimate(month=month.strftime("%Y-%m"), **est.model_dump()))
    return out


def analyze_needs(
    data: Dataset,
    needs: Iterable[NeedLike],
    *,
    config: AnalysisConfig | None = None,
    segmentations: Mapping[str, SegmentSource] | None = None,
) -> list[NeedAnalysis]:
    """:func:`analyze_need` for each need; a need without enough data is logged and skipped."""
    out: list[NeedAnalysis] = []
    for need in needs:
        try:
            out.append(analyze_need(data, need, config=config, segmentations=segmentations))
        except InsufficientDataError as exc:
            logger.warning("need %r not analysed: %s", need.name, exc.message)
    return out


__all__ = (
    "MISSING_GROUP",
    "OTHER_GROUP",
    "AnalysisConfig",
    "Estimate",
    "GroupEstimate",
    "MonthEstimate",
    "NeedAnalysis",
    "NeedLike",
    "analyze_need",
    "analyze_needs",
    "default_cutoff",
    "default_group_fields",
    "field_groups",
    "mean_estimate",
    "month_cutoffs",
    "rate_estimate",
)
