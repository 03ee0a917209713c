"""Buy again and its blend pass the shared model contract, and recover planted repeats."""

from __future__ import annotations

import numpy as np
import pandas as pd
from model_contract import ModelContract, planted

from tailorcrm.data.dataset import Dataset
from tailorcrm.evaluation.metrics import ranking_metrics
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.buy_again import BuyAgain, RepeatBlend
from tailorcrm.recommend.ease import EASE
from tailorcrm.recommend.popularity import Popularity
from tailorcrm.recommend.ranking import top_k


def repeats_planted(seed: int = 0, n_customers: int = 120, n_items: int = 60
                    ) -> tuple[Dataset, Dataset]:
    """Each customer has a personal basket of 4 staples re-bought every week (plus one random
    item per week); the last week is held out. Returns ``(train, test)``."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        staples = rng.choice(n_items, size=4, replace=False)
        for week in range(8):
            basket = [s for s in staples if rng.random() < 0.8] + [int(rng.integers(n_items))]
            rows += [(f"c{c:03d}", f"i{int(i):03d}", week) for i in basket]
    events = pd.DataFrame(rows, columns=["customer_id", "item_id", "week"])
    events["ts"] = pd.to_datetime("2025-01-01", utc=True) + pd.to_timedelta(
        7 * events["week"], unit="D")
    events["type"] = "purchase"
    base = Dataset.from_events(events.drop(columns="week"))
    test = (events["week"] == 7).to_numpy()
    return base.with_events(base.events[~test]), base.with_events(base.events[test])


def ndcg_with_repeats(model: Recommender, train: Dataset, test: Dataset) -> float:
    scores = model.score_many(np.arange(train.n_customers))
    return ranking_metrics(top_k(scores, 10), test.interaction_matrix(weighting="binary"),
                           10)["ndcg"]


class TestBuyAgainContract(ModelContract):
    # it only re-ranks what a customer bought: the planted test holds out new items
    planted_bound = 0.0

    def make_model(self, random_state: int = 42) -> Recommender:
        return BuyAgain(half_life_days=3.0)

    def test_fold_in_reflects_new_history(self, fitted: Recommender) -> None:
        n_items = planted()[0].n_items
        history = np.zeros(n_items)
        history[[0, 4, 8]] = [1.0, 3.0, 1.0]
        scores = fitted.fold_in(history)
        assert np.isnan(np.delete(scores, [0, 4, 8])).all()
        assert scores[4] > max(scores[0], scores[8]) > 0

    def test_recovers_planted_repeats(self) -> None:
        train, test = repeats_planted()
        again = ndcg_with_repeats(BuyAgain().fit(train), train, test)
        pop = ndcg_with_repeats(Popularity().fit(train), train, test)
        assert again >= 0.6 > 2 * pop


class TestRepeatBlendContract(ModelContract):
    planted_bound = 0.5  # the filler (EASE) learns the planted tastes; no repeats planted

    def make_model(self, random_state: int = 42) -> Recommender:
        return RepeatBlend.of(BuyAgain(), EASE(lam=50.0), weight=0.5)

    def test_fold_in_reflects_new_history(self, fitted: Recommender) -> None:
        n_items = planted()[0].n_items
        history = np.zeros(n_items)
        history[[0, 4, 8]] = 1.0
        scores = fitted.fold_in(history)
        candidates = np.setdiff1d(np.arange(n_items), [0, 4, 8])
        best = candidates[np.argsort(-np.nan_to_num(scores[candidates], nan=-1e9))[:5]]
        assert np.mean(best % 4 == 0) >= 0.6
        assert np.all(np.isfinite(scores[[0, 4, 8]]))

    def test_recovers_planted_repeats(self) -> None:
        train, test = repeats_planted()
        model = RepeatBlend.of(BuyAgain(), Popularity(), weight=100.0).fit(train)
        assert ndcg_with_repeats(model, train, test) >= 0.6
