"""Splitting protocols: the stratified split reproduces Microsoft Recommenders row for row."""

from __future__ import annotations

import hashlib
from pathlib import Path

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
    # Item A (4 rows) by draw: r0, r3, r2, r1 -> train ranks <= round(.75 * 4) = 3: r0 r3 r2,
    # test r1. Item B (3 rows): r6, r5, r4 -> round(2.25) = 2: train r6 r5, test r4.
    # Item C (2 rows): round(1.5) = 2 (half to even): both train. Item D (1 row): round(.75)
    # = 1: train. The released Microsoft Recommenders 1.2.1 gives exactly this.
    train, test = stratified_item(_ten_rows(), ratio=0.75, seed=42)
    assert train.index.tolist() == [0, 3, 2, 6, 5, 8, 7, 9]
    assert test.index.tolist() == [1, 4]


def test_stratified_item_min_rating_filters_before_drawing() -> None:
    # min_rating=2 drops item D first; the 9 remaining rows draw the same first 9 numbers.
    train, test = stratified_item(_ten_rows(), ratio=0.75, min_rating=2, seed=42)
    assert train.index.tolist() == [0, 3, 2, 6, 5, 8, 7]
    assert test.index.tolist() == [1, 4]


def _planted_reference_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    return pd.DataFrame({"customer_id": rng.integers(0, 40, n).astype(str),
                         "item_id": rng.zipf(1.6, n).clip(max=60).astype(str),
                         "ts": pd.to_datetime(rng.integers(0, 10**6, n), unit="s")})


# Test-row ids that the released Microsoft Recommenders 1.2.1 produced on
# _planted_reference_frame() (python_stratified_split(filter_by="item", seed=42) and
# python_chrono_split(filter_by="user"), ratio 0.75; the package is not a dependency).
REFERENCE_STRATIFIED_TEST = [
    1, 11, 12, 25, 33, 34, 35, 38, 43, 50, 52, 53, 55, 62, 65, 67, 69, 70, 73, 76, 80, 86, 88,
    91, 92, 94, 113, 115, 118, 120, 121, 126, 127, 139, 140, 154, 165, 178, 182, 183, 186,
    191, 192, 197, 198, 203, 211, 212, 217, 219, 226, 228, 230, 240, 241, 242, 247, 249, 252,
    256, 261, 264, 270, 271, 272, 273, 276, 278, 279, 280, 296, 305, 308, 313, 314, 315, 324,
    336, 351, 358, 364, 366, 376, 378, 381, 383, 385, 389, 390, 393, 395, 396, 398, 399,
]
REFERENCE_CHRONO_TEST = [
    5, 6, 7, 14, 15, 17, 21, 22, 23, 25, 30, 31, 32, 34, 42, 43, 48, 49, 50, 53, 54, 55, 58,
    68, 75, 78, 88, 89, 90, 92, 97, 98, 100, 104, 105, 106, 115, 117, 118, 120, 123, 124, 125,
    139, 145, 150, 153, 154, 158, 167, 170, 173, 174, 182, 183, 187, 188, 189, 195, 198, 210,
    211, 213, 223, 224, 227, 232, 237, 247, 248, 249, 266, 272, 283, 288, 294, 296, 307, 318,
    323, 326, 327, 328, 337, 339, 340, 342, 345, 347, 351, 352, 353, 355, 356, 366, 376, 392,
    398,
]


def test_stratified_item_matches_the_released_reference_row_for_row() -> None:
    train, test = stratified_item(_planted_reference_frame(), ratio=0.75, seed=42)
    assert sorted(test.index.tolist()) == REFERENCE_STRATIFIED_TEST
    assert len(train) == 400 - len(REFERENCE_STRATIFIED_TEST)


def test_temporal_per_customer_matches_the_released_chrono_split() -> None:
    train, test = temporal_per_customer(_planted_reference_frame(), ratio=0.75)
    assert sorted(test.index.tolist()) == REFERENCE_CHRONO_TEST
    assert len(train) == 400 - len(REFERENCE_CHRONO_TEST)


@pytest.mark.realdata
def test_stratified_item_on_movielens_matches_the_released_reference(data_dir: Path) -> None:
    ml = pd.read_csv(data_dir / "movielens-100k" / "u.data", sep="\t",
                     names=["customer_id", "item_id", "rating", "timestamp"])
    train, test = stratified_item(ml, ratio=0.75, seed=42)
    digest = hashlib.sha256(",".join(map(str, sorted(test.index))).encode()).hexdigest()
    # Microsoft Recommenders 1.2.1 python_stratified_split(ratio=0.75, filter_by="item",
    # seed=42) on the same file: 75,066 train rows, 24,934 test rows, this hash of test ids.
    assert (len(train), len(test)) == (75_066, 24_934)
    assert digest == "b1b8dc3d3f6d36779813f26bfd8c2ca90f83ad99747b883fbe7b21a37e6a9b42"


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
    # each item keeps round(0.75 * count) rows (half to even) in train
    sizes = frame.groupby("item_id").size()
    kept = train.groupby("item_id").size().reindex(sizes.index, fill_value=0)
    assert (kept == np.round(0.75 * sizes)).all()


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
    # a: times 1,2,3,4 (rows 1,3,2,0) -> train ranks <= round(3.0) -> test row 0 (time 4)
    # b: times 5,10 (rows 5,4) -> round(1.5) = 2: both train; c: round(.75) = 1: train
    train, test = temporal_per_customer(_timed(), ratio=0.75)
    assert sorted(test.index.tolist()) == [0]
    assert sorted(train.index.tolist()) == [1, 2, 3, 4, 5, 6]


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
    # them in the released 1.2.1: np.random.seed, a "random" column, sort, groupby
    # count/cumcount, rank <= round(threshold * count).
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"customer_id": rng.integers(0, 80, 3000),
                          "item_id": rng.zipf(1.6, 3000) % 150})
    data = frame.copy()
    np.random.seed(42)
    data["random"] = np.random.rand(data.shape[0])
    data = data.sort_values(["item_id", "random"])
    groups = data.groupby("item_id")
    data["count"] = groups["item_id"].transform("count")
    data["rank"] = groups.cumcount() + 1
    first, second = np.cumsum([0.75, 0.25])
    expected_train = data[data["rank"] <= round(first * data["count"])]
    expected_test = data[(data["rank"] > round(first * data["count"]))
                         & (data["rank"] <= round(second * data["count"]))]
    train, test = stratified_item(frame, ratio=0.75, seed=42)
    assert train.index.tolist() == expected_train.index.tolist()
    assert test.index.tolist() == expected_test.index.tolist()
