"""Customer-side EASE (closed-form user neighbourhood) passes the shared model contract."""

from __future__ import annotations

from model_contract import ModelContract

from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.ease import EASE


class TestContract(ModelContract):
    planted_bound = 0.5
    folds_in = False  # customer × customer weights: a new history needs a refit

    def make_model(self, random_state: int = 42) -> Recommender:
        return EASE(side="customer", lam=20.0, dropout=0.5, zero_diagonal=False)
