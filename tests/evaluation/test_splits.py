"""Splitting protocols: the stratified split reproduces Microsoft Recommenders row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import ValidationError
from tailorcrm.evaluation.splits import (
    kfold,
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


def test_kfold_partitions_rows_like_surprise() -> None:
    # 7 rows in 5 folds: 7 // 5 = 1 row each, the first 7 % 5 = 2 folds one longer.
    folds = kfold(7, n_splits=5, random_state=0)
    assert [len(test) for _, test in folds] == [2, 2, 1, 1, 1]
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(7))
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 7
    order = np.arange(7)
    np.random.RandomState(0).shuffle(order)
    assert folds[0][1].tolist() == order[:2].tolist()


def test_kfold_matches_surprise_itself() -> None:
    surprise = pytest.importorskip("surprise")
    frame = pd.DataFrame({"u": np.arange(23) % 5, "i": np.arange(23), "r": 3.0})
    data = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5)))
    theirs = [sorted(int(iid) for _, iid, _ in test)
              for _, test in surprise.model_selection.KFold(n_splits=5, random_state=0)
              .split(data)]
    ours = [sorted(frame["i"].to_numpy()[test].tolist()) for _, test in kfold(23)]
    assert ours == theirs


def test_stratified_item_equals_the_reference_pipeline_inline() -> None:
    # The reference steps written out with pandas, as recommenders' _do_stratification runs
    # them: np.random.seed, a "random" column, sort, groupby count/cumcount, rank/count.
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"customer_id": rng.integers(0, 80, 3000),
                          "item_id": rng.zipf(1.6, 3000) % 150})
    data = frame.copy()
    np.random.seed(42)
    data["random"] = np.random.rand(data.shape[0])
    data = data.sort_values(["item_id", "random"])
    groups = data.groupby("item_id")
    data["count"] = groups["item_id"].transform("count")
    data["rank"] = (groups.cumcount() + 1) / data["count"]
    first, second = np.cumsum([0.75, 0.25])
    expected_train = data[data["rank"] <= first]
    expected_test = data[(data["rank"] > first) & (data["rank"] <= second)]
    train, test = stratified_item(frame, ratio=0.75, seed=42)
    assert train.index.tolist() == expected_train.index.tolist()
    assert test.index.tolist() == expected_test.index.tolist()
