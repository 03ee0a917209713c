"""Where a tenant's data ends, read from the events (not the wall clock), for need labels.

A derived need (churn, propensity, spend) labels customers by what they did in the horizon
after a cut-off, so the cut-off must leave a whole horizon of *covered* time. The naive end,
the last event, moves to the wall clock as soon as a few live events arrive in a historical
tenant: the horizon before "now" then holds almost no events and every customer looks like
a churner ("3899 positives and 0 negatives").

:func:`data_end` instead takes the last day whose trailing horizon still holds a substantial
share of the typical event volume: for every day with events, count the events in the
``horizon_days`` up to it; the typical volume is the median of those counts (over days at
least one horizon after the first event); the end is the last event on the latest day whose
count is at least ``min_share`` (default 0.25) of it. A steady tenant ends at its last event;
a historical import with a trickle of live events ends where the import ends, until the live
events add up to a quarter of a normal horizon.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

MIN_SHARE = 0.25
"""A trailing horizon with less than this share of the typical volume is not covered."""


def to_utc(ts: dt.datetime | pd.Timestamp | str) -> pd.Timestamp:
    """A timestamp in UTC (naive input is read as UTC)."""
    out = pd.Timestamp(ts)
    return out.tz_localize("UTC") if out.tzinfo is None else out.tz_convert("UTC")


def data_end(ts: pd.Series, horizon_days: int, *, min_share: float = MIN_SHARE,
             ) -> pd.Timestamp:
    """The last event time whose trailing ``horizon_days`` carry substantial event volume.

    Parameters
    ----------
    ts:
        Event times (UTC datetimes); must not be empty.
    horizon_days:
        The need's horizon: the length of the trailing window counted.
    min_share:
        The share of the typical (median) trailing volume a day's window must reach.

    Returns
    -------
    pandas.Timestamp
        The time of the last event on that day (UTC).
    """
    times = pd.to_datetime(ts, utc=True)
    days = times.dt.floor("D")
    return data_end_daily(days.value_counts(), times.groupby(days).max(), horizon_days,
                          min_share=min_share)


def data_end_daily(counts: pd.Series, last_by_day: pd.Series, horizon_days: int, *,
                   min_share: float = MIN_SHARE) -> pd.Timestamp:
    """:func:`data_end` from daily figures: ``counts`` (events per UTC day, indexed by the
    day) and ``last_by_day`` (the last event time of each day). A distributed engine
    aggregates these two columns instead of shipping every event time (``spark/needs.py``)."""
    counts = counts.sort_index()
    last_by_day = last_by_day.sort_index()
    last = to_utc(last_by_day.max())
    if len(counts) < 2:
        return last
    full = counts.reindex(pd.date_range(counts.index[0], counts.index[-1], freq="D"),
                          fill_value=0)
    trailing = full.rolling(horizon_days, min_periods=1).sum().reindex(counts.index)
    settled = trailing[trailing.index >= counts.index[0] + pd.Timedelta(days=horizon_days)]
    typical = float((settled if len(settled) else trailing).median())
    covered = trailing[trailing >= min_share * typical]
    end_day = covered.index.max()
    if end_day == counts.index[-1]:
        return last
    return to_utc(last_by_day[last_by_day.index <= end_day].max())
