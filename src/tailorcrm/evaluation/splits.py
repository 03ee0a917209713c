"""Train/test protocols: stratified per item, temporal per customer, leave-last-out, cut-off."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import ValidationError

Split = tuple[pd.DataFrame, pd.DataFrame]
Split_idx = tuple[np.ndarray, np.ndarray]


def _check_columns(events: pd.DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c not in events.columns]
    if missing:
        raise ValidationError(f"events lack column(s) {missing}")


def _stratify(
    events: pd.DataFrame,
    *,
    ratio: float,
    by: str,
    order: np.ndarray,
) -> Split:
    """The stratification step shared by the stratified and chronological splitters.

    Written by hand (no library offers it without pulling in Microsoft Recommenders and its
    dependency tree) to reproduce ``_do_stratification`` of the released Microsoft
    Recommenders 1.2.1 (``recommenders.datasets.python_splitters``) row for row: sort by the
    group column then ``order`` (a stable lexsort, as pandas does for several keys), rank
    within the group (1-based), keep ``rank <= round(ratio * count)`` for train and
    ``round(ratio * count) < rank <= round(1.0 * count)`` (their ``np.cumsum`` thresholds)
    for test, rounding half to even as pandas' ``Series.round`` does. An item rated once or
    twice goes wholly to train (0.75 and 1.5 round to 1 and 2). Older revisions kept
    ``rank / count <= ratio`` instead; that rule moves 735 of ML-100K's 100,000 rows.
    """
    frame = events.copy()
    frame["_order"] = order
    frame = frame.sort_values([by, "_order"])
    groups = frame.groupby(by, sort=False)
    count = groups[by].transform("count").to_numpy(dtype=np.int64)
    rank = (groups.cumcount() + 1).to_numpy(dtype=np.int64)
    first, second = np.cumsum([ratio, 1 - ratio])
    train_last, test_last = np.round(first * count), np.round(second * count)
    frame = frame.drop(columns="_order")
    train = frame[rank <= train_last]
    test = frame[(rank > train_last) & (rank <= test_last)]
    return train, test


def _min_count_filter(events: pd.DataFrame, by: str, min_rating: int) -> pd.DataFrame:
    """Rows whose group (``by``) has at least ``min_rating`` rows, in their original order."""
    if min_rating < 1:
        raise ValidationError("min_rating must be an integer >= 1")
    if min_rating == 1:
        return events
    counts = events.groupby(by)[by].transform("count")
    return events[counts >= min_rating]


def _check_ratio(ratio: float) -> None:
    if not 0.0 < ratio < 1.0:
        raise ValidationError("split ratio must be strictly between 0 and 1")


def stratified_item(
    events: pd.DataFrame,
    *,
    ratio: float = 0.75,
    min_rating: int = 1,
    filter_by: Literal["item", "user"] = "item",
    col_user: str = "customer_id",
    col_item: str = "item_id",
    seed: int = 42,
) -> Split:
    """Microsoft Recommenders' ``python_stratified_split``, reproduced exactly.

    Rows (after the ``min_rating`` filter, which keeps groups with at least that many rows)
    each draw one number from ``np.random.seed(seed); np.random.rand(n)`` in file order;
    rows are sorted by the ``filter_by`` column then that number; a row goes to train when
    its rank within the group is ``<= round(ratio * size)`` (half to even; so an item seen
    once or twice goes wholly to train), as the released 1.2.1 does.

    Returns
    -------
    train, test:
        Row subsets of ``events`` (original index kept), ordered as the reference orders them.
    """
    _check_ratio(ratio)
    _check_columns(events, col_user, col_item)
    by = col_item if filter_by == "item" else col_user
    data = _min_count_filter(events, by, min_rating)
    # RandomState(seed).rand draws the same stream as np.random.seed(seed); np.random.rand,
    # without touching the global generator.
    draws = np.random.RandomState(seed).rand(len(data))
    return _stratify(data, ratio=ratio, by=by, order=draws)


def temporal_per_customer(
    events: pd.DataFrame,
    *,
    ratio: float = 0.75,
    min_rating: int = 1,
    col_user: str = "customer_id",
    col_time: str = "ts",
) -> Split:
    """Each customer's earliest ``ratio`` of events to train, the rest to test.

    Microsoft Recommenders' ``python_chrono_split(filter_by="user")``: sort by customer then
    time (ties keep file order), train where ``rank <= round(ratio * count)``.
    """
    _check_ratio(ratio)
    _check_columns(events, col_user, col_time)
    data = _min_count_filter(events, col_user, min_rating)
    order = pd.to_datetime(data[col_time], utc=True).to_numpy(dtype="datetime64[ns]")
    return _stratify(data, ratio=ratio, by=col_user,
                     order=order.astype(np.int64))


def leave_last_out(
    events: pd.DataFrame,
    *,
    col_user: str = "customer_id",
    col_time: str = "ts",
) -> Split:
    """Each customer's last event (by time, ties by file order) to test, the rest to train.

    Customers with a single event keep it in train (nothing would be left to learn from).
    """
    _check_columns(events, col_user, col_time)
    ts = pd.to_datetime(events[col_time], utc=True).to_numpy(dtype="datetime64[ns]")
    frame = events.assign(_ts=ts.astype(np.int64), _pos=np.arange(len(events)))
    frame = frame.sort_values([col_user, "_ts", "_pos"])
    groups = frame.groupby(col_user, sort=False)
    is_last = (groups.cumcount(ascending=False) == 0).to_numpy()
    several = (groups[col_user].transform("count") > 1).to_numpy()
    frame = frame.drop(columns=["_ts", "_pos"])
    return frame[~(is_last & several)], frame[is_last & several]


def temporal_cutoff(
    events: pd.DataFrame,
    *,
    holdout: pd.Timedelta = pd.Timedelta(weeks=8),
    cutoff: pd.Timestamp | None = None,
    col_time: str = "ts",
) -> Split:
    """A global cut-off in time: events at or after ``cutoff`` are the test set.

    ``cutoff`` defaults to the last event's time minus ``holdout`` (e.g. the last 8 weeks of
    a retail log held out). Both parts keep file order.
    """
    _check_columns(events, col_time)
    ts = pd.to_datetime(events[col_time], utc=True)
    if cutoff is None:
        cutoff = ts.max() - holdout
    elif cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize("UTC")
    after = (ts >= cutoff).to_numpy()
    return events[~after], events[after]


def to_datasets(base: Dataset, train: pd.DataFrame, test: pd.DataFrame) -> tuple[Dataset, Dataset]:
    """Train and test Datasets sharing ``base``'s customers, items and vocabularies."""
    return base.with_events(train), base.with_events(test)


def kfold(n_rows: int, *, n_splits: int = 5, random_state: int | None = 0) -> list[Split_idx]:
    """Row-index folds as Surprise's ``KFold(n_splits, random_state, shuffle=True)``.

    ``np.random.RandomState(random_state).shuffle(arange(n))``, then consecutive folds of
    ``n // n_splits`` rows, the first ``n % n_splits`` folds one row longer.
    """
    if n_splits < 2 or n_splits > n_rows:
        raise ValidationError("n_splits must be between 2 and the number of rows")
    indices = np.arange(n_rows)
    np.random.RandomState(random_state).shuffle(indices)
    folds: list[Split_idx] = []
    stop = 0
    for fold in range(n_splits):
        start = stop
        stop += n_rows // n_splits + (1 if fold < n_rows % n_splits else 0)
        folds.append((np.concatenate([indices[:start], indices[stop:]]), indices[start:stop]))
    return folds
