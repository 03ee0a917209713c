"""Metrics against hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from tailorcrm.evaluation.metrics import catalog_coverage, mae, novelty, ranking_metrics, rmse


def _relevance(rows: list[list[int]], n_items: int) -> sparse.csr_matrix:
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), n_items))


def test_ranking_metrics_by_hand() -> None:
    recommended = np.array([
        [0, 1, 2],     # u0: relevant {1, 3} -> one hit at rank 2
        [4, 5, -1],    # u1: relevant {4, 5} -> hits at ranks 1 and 2 (list of 2 < k)
        [0, 1, 2],     # u2: nothing relevant -> not averaged over
        [-1, -1, -1],  # u3: relevant {0} but no recommendation -> not averaged over
    ])
    relevant = _relevance([[1, 3], [4, 5], [], [0]], n_items=6)
    got = ranking_metrics(recommended, relevant, k=3)
    # n_users = 2 (u0, u1)
    # precision: u0 1/3, u1 2/3 (divided by k even for a short list) -> (1/3 + 2/3) / 2 = 0.5
    # recall: u0 1/2, u1 2/2 -> 0.75
    # nDCG (natural log, the base cancels): u0 (1/ln 3) / (1/ln 2 + 1/ln 3); u1 1
    ndcg_u0 = (1 / math.log(3)) / (1 / math.log(2) + 1 / math.log(3))
    # MAP: u0 (1 hit, 1st hit at rank 2 -> 1/2) / 2 relevant = 0.25; u1 (1/1 + 2/2) / 2 = 1
    assert got["n_users"] == 2
    assert got["precision"] == pytest.approx(0.5)
    assert got["recall"] == pytest.approx(0.75)
    assert got["ndcg"] == pytest.approx((ndcg_u0 + 1.0) / 2)
    assert got["map"] == pytest.approx(0.625)


def test_map_divides_by_all_relevant_items_not_k() -> None:
    # 5 relevant items, k = 3, hits at ranks 1 and 3: AP = (1/1 + 2/3) / 5 = 1/3
    # (map@k would divide by min(5, 3) = 3 and give 5/9).
    recommended = np.array([[0, 9, 1]])
    relevant = _relevance([[0, 1, 2, 3, 4]], n_items=10)
    got = ranking_metrics(recommended, relevant, k=3)
    assert got["map"] == pytest.approx(1 / 3)
    # nDCG: dcg = 1/ln2 + 1/ln4; ideal over min(k, 5) = 3 positions
    ideal = 1 / math.log(2) + 1 / math.log(3) + 1 / math.log(4)
    assert got["ndcg"] == pytest.approx((1 / math.log(2) + 1 / math.log(4)) / ideal)
    assert got["recall"] == pytest.approx(2 / 5)


def test_lists_longer_than_k_are_cut() -> None:
    recommended = np.array([[5, 6, 0]])
    relevant = _relevance([[0]], n_items=7)
    assert ranking_metrics(recommended, relevant, k=2)["precision"] == 0.0
    assert ranking_metrics(recommended, relevant, k=3)["precision"] == pytest.approx(1 / 3)


def test_coverage_and_novelty_by_hand() -> None:
    # train: 4 customers; item 0 seen by all 4 (p=1, -log2 p = 0); item 1 by one (p=.25 -> 2);
    # item 2 by two (p=.5 -> 1); item 3 never (left out of novelty, not in the catalog share).
    train = _relevance([[0, 1], [0, 2], [0, 2], [0]], n_items=4)
    recommended = np.array([[0, 1], [2, 3], [-1, -1]])
    # novelty over recommended items seen in train: items 0, 1, 2 -> (0 + 2 + 1) / 3 = 1
    assert novelty(recommended, train) == pytest.approx(1.0)
    # coverage: distinct recommended {0,1,2,3} = 4 over 3 train items
    assert catalog_coverage(recommended, train) == pytest.approx(4 / 3)
    assert catalog_coverage(np.array([[0, 0]]), train) == pytest.approx(1 / 3)


def test_rmse_mae_by_hand() -> None:
    # errors 1, -2, 0, 1 -> squares 1 4 0 1 -> mean 1.5 -> rmse sqrt(1.5); |e| mean 1
    y, p = np.array([3, 4, 5, 2]), np.array([2, 6, 5, 1])
    assert rmse(y, p) == pytest.approx(math.sqrt(1.5))
    assert mae(y, p) == pytest.approx(1.0)
