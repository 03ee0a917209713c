"""The one window of accepted event times, for the API, imports and the loader alike.

An event must have happened on or after :data:`EARLIEST_EVENT_TIME` (1900-01-01 UTC) and no
later than now plus a tolerance for clock skew (:data:`FUTURE_TOLERANCE_HOURS`, 24 h by
default; an import mapping may set its own ``future_tolerance_hours``). Times outside the
window are refused at every entrance with the row, the field and the reason; rows outside it
that were stored before this rule existed are skipped by the loader, never fatal.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads when these functions run: light commands skip it
    import pandas as pd


EARLIEST_EVENT_TIME = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
FUTURE_TOLERANCE_HOURS = 24.0


def latest_event_time(now: dt.datetime | None = None,
                      tolerance_hours: float = FUTURE_TOLERANCE_HOURS) -> dt.datetime:
    """The latest accepted event time: ``now`` (default: the clock) plus the tolerance."""
    return (now or dt.datetime.now(dt.UTC)) + dt.timedelta(hours=tolerance_hours)


def event_time_problem(ts: dt.datetime, now: dt.datetime | None = None,
                       tolerance_hours: float = FUTURE_TOLERANCE_HOURS) -> str | None:
    """Why a UTC event time is refused, or None when it is inside the window."""
    if ts < EARLIEST_EVENT_TIME:
        return f"{ts.isoformat()} is before {EARLIEST_EVENT_TIME.date().isoformat()}"
    latest = latest_event_time(now, tolerance_hours)
    if ts > latest:
        return (f"{ts.isoformat()} is in the future (after now + {tolerance_hours:g} h)")
    return None


def outside_window(ts: pd.Series, latest: pd.Timestamp) -> pd.Series:
    """A mask of the times of a UTC column outside ``[EARLIEST_EVENT_TIME, latest]``."""
    import pandas as pd
    return ((ts < pd.Timestamp(EARLIEST_EVENT_TIME)) | (ts > latest)).fillna(False)
