"""EASE (dropout, DLAE) passes the shared model contract."""

from __future__ import annotations

from model_contract import ModelContract

from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.ease import EASE


class TestContract(ModelContract):
    planted_bound = 0.5

    def make_model(self, random_state: int = 42) -> Recommender:
        return EASE(lam=20.0, dropout=0.5, zero_diagonal=False)
