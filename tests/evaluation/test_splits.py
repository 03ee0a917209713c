"""Splitting protocols: the stratified split reproduces Microsoft Recommenders row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import ValidationError
from tailorcrm.evaluation.splits import (
    leave_last_out,
    stratified_item,
    temporal_cutoff,
    temporal_per_customer,
    to_datasets,
)


def _ten_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [f"u{i}" for i in range(10)],
        "item_id": ["A", "A", "A", "A", "B", "B", "B", "C", "C", "D"],
    })


def test_stratified_item_golden_ten_rows() -> None:
    # np.random.seed(42); np.random.rand(10), one draw per row in file order:
    #   r0 .3745  r1 .9507  r2 .7320  r3 .5987  r4 .156019  r5 .155995  r6 .0581
    #   r7 .8662  r8 .6011  r9 .7081
    # Item A (4 rows) by draw: r0, r3, r2, r1 -> rank/count .25 .5 .75 1.0 -> train r0 r3 r2
    # (.75 <= .75), test r1.
    # Item B (3 rows): r6 (.0581), r5 (.155995), r4 (.156019) -> 1/3 2/3 1 -> test r4.
    # Item C (2 rows): r8, r7 -> .5 1 -> train r8, test r7 (round(1.5) would be 2: not used).
    # Item D (1 row): 1/1 > .75 -> test r9 (round(.75) would be 1: not used).
    train, test = stratified_item(_ten_rows(), ratio=0.75, seed=42)
    assert train.index.tolist() == [0, 3, 2, 6, 5, 8]
    assert test.index.tolist() == [1, 4, 7, 9]


def test_stratified_item_min_rating_filters_before_drawing() -> None:
    # min_rating=2 drops item D first; the 9 remaining rows draw the same first 9 numbers.
    train, test = stratified_item(_ten_rows(), ratio=0.75, min_rating=2, seed=42)
    assert train.index.tolist() == [0, 3, 2, 6, 5, 8]
    assert test.index.tolist() == [1, 4, 7]


def test_stratified_item_does_not_touch_global_rng_or_input() -> None:
    frame = _ten_rows()
    np.random.seed(1)
    expected = np.random.rand()
    np.random.seed(1)
    stratified_item(frame)
    assert np.random.rand() == expected
    assert list(frame.columns) == ["customer_id", "item_id"]


def test_stratified_item_real_shape_on_planted_counts() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"customer_id": rng.integers(0, 50, 2000).astype(str),
                          "item_id": rng.integers(0, 40, 2000).astype(str)})
    train, test = stratified_item(frame, ratio=0.75, seed=3)
    assert len(train) + len(test) == len(frame)
    per_item = train.groupby("item_id").size() / frame.groupby("item_id").size()
    assert per_item.between(0.7, 0.75 + 1e-12).all()


def test_bad_ratio_rejected() -> None:
    with pytest.raises(ValidationError):
        stratified_item(_ten_rows(), ratio=1.0)


def _timed() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b", "c"],
        "item_id": ["1", "2", "3", "4", "1", "2", "3"],
        "ts": pd.to_datetime([4, 1, 3, 2, 10, 5, 7], unit="D", utc=True),
    })


def test_temporal_per_customer_keeps_earliest_share() -> None:
    # a: times 1,2,3,4 (rows 1,3,2,0) -> ranks .25 .5 .75 1 -> test row 0 (time 4)
    # b: times 5,10 (rows 5,4) -> .5 1 -> test row 4; c: one event -> 1 > .75 -> test row 6
    train, test = temporal_per_customer(_timed(), ratio=0.75)
    assert sorted(test.index.tolist()) == [0, 4, 6]
    assert sorted(train.index.tolist()) == [1, 2, 3, 5]


def test_leave_last_out_holds_out_one_per_customer() -> None:
    train, test = leave_last_out(_timed())
    assert sorted(test.index.tolist()) == [0, 4]  # c has one event: kept in train
    assert sorted(train.index.tolist()) == [1, 2, 3, 5, 6]


def test_temporal_cutoff_holds_out_last_weeks() -> None:
    frame = pd.DataFrame({"customer_id": ["a"] * 4, "item_id": list("wxyz"),
                          "ts": pd.to_datetime(["2011-01-01", "2011-10-01", "2011-11-01",
                                                "2011-12-09"], utc=True)})
    train, test = temporal_cutoff(frame, holdout=pd.Timedelta(weeks=8))
    # 2011-12-09 minus 56 days = 2011-10-14: Nov 1 and Dec 9 are held out
    assert test["item_id"].tolist() == ["y", "z"]
    assert train["item_id"].tolist() == ["w", "x"]


def test_to_datasets_share_vocabularies() -> None:
    data = Dataset.from_events(_timed())
    train, test = temporal_per_customer(data.events)
    tr, te = to_datasets(data, train, test)
    assert tr.customer_vocab == te.customer_vocab == data.customer_vocab
    assert tr.item_vocab == te.item_vocab
    assert len(tr.events) + len(te.events) == len(data.events)
