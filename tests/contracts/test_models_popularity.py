"""Popularity passes the shared model contract (it answers every customer)."""

from __future__ import annotations

from model_contract import ModelContract

from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.popularity import Popularity


class TestContract(ModelContract):
    planted_bound = 0.0  # non-personalized: the contract only checks the mechanics
    scores_unknown_customers = True

    def make_model(self, random_state: int = 42) -> Recommender:
        return Popularity(segment_field="preferred_categories")


class TestTrendingContract(TestContract):
    def make_model(self, random_state: int = 42) -> Recommender:
        return Popularity(half_life_days=3.0)
