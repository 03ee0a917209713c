"""ALS passes the shared model contract."""

from __future__ import annotations

from model_contract import ModelContract

from tailorcrm.recommend.als import ALS
from tailorcrm.recommend.base import Recommender


class TestContract(ModelContract):
    planted_bound = 0.5

    def make_model(self, random_state: int = 42) -> Recommender:
        return ALS(factors=8, iterations=10, random_state=random_state)
