"""Hybrid, fallback chain and the default recommender pass the shared model contract."""

from __future__ import annotations

from model_contract import ModelContract

from tailorcrm.recommend import default_recommender
from tailorcrm.recommend.als import ALS
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.content import ContentBased
from tailorcrm.recommend.ease import EASE
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.hybrid import Hybrid
from tailorcrm.recommend.itemknn import ItemKNN
from tailorcrm.recommend.popularity import Popularity


class TestHybridContract(ModelContract):
    planted_bound = 0.5

    def make_model(self, random_state: int = 42) -> Recommender:
        return Hybrid.of([(EASE(lam=50.0), 1.0), (ItemKNN(k=20), 0.5),
                          (ALS(factors=8, random_state=random_state), 0.3),
                          (ContentBased(), 0.2)])


class TestFallbackContract(ModelContract):
    planted_bound = 0.5
    scores_unknown_customers = True

    def make_model(self, random_state: int = 42) -> Recommender:
        return FallbackChain.of([EASE(lam=50.0), Popularity()])


class TestDefaultContract(ModelContract):
    planted_bound = 0.5
    scores_unknown_customers = True

    def make_model(self, random_state: int = 42) -> Recommender:
        return default_recommender()
