"""A strategy's whole pipeline behind the ``fit`` / ``score_many`` API the evaluation calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import numpy as np

from tailorcrm.customize.pipeline import Pipeline
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import Strategy, strategy_to_recommender
from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import Recommender
from tailorcrm.store import Store


def _model_of(strategy: Strategy) -> Recommender:
    if strategy.uses_tenant_model:  # the tenant's model is chosen at training: the default
        from tailorcrm.recommend.default import default_recommender

        return default_recommender()
    return strategy_to_recommender(strategy)


class StrategyScorer:
    """A strategy with the ``fit`` / ``score_many`` API of the evaluation engine.

    ``score_many`` runs the full :class:`~tailorcrm.customize.pipeline.Pipeline` (its batch
    path) and encodes each final list as scores (``len(list) - rank`` for listed items, NaN
    elsewhere), so a top-k taken from them is exactly what the strategy would show.
    ``context_of`` may supply each customer's segments / needs / request context for the
    rules. With ``exclude_seen`` (default) every item in a customer's training history is
    excluded before rules and diversity, as the evaluation protocol removes seen items from
    every list (otherwise a cap could spend its slots on items the protocol then drops).
    A strategy on the tenant's model is evaluated with the default recommender.
    """

    def __init__(self, strategy: Strategy, *, rules: RuleSet | None = None,
                 context_of: Callable[[str], dict[str, Any]] | None = None,
                 exclude_seen: bool = True) -> None:
        self.strategy = strategy
        self.rules = rules
        self.context_of = context_of
        self.exclude_seen = exclude_seen
        self.model = _model_of(strategy)

    def fit(self, data: Dataset) -> Self:
        self.model.fit(data)
        self.data_ = data
        served = self.strategy
        if served.is_shipped_default:
            served = served.model_copy(update={"name": "default-evaluated"})
        if self.exclude_seen:
            seen = served.exclusions.model_copy(update={
                "bought": True, "repurchasable_categories": (),
                "bought_types": tuple(sorted(map(str, data.events["type"].unique())))})
            served = served.model_copy(update={"exclusions": seen})
        self.pipeline_ = Pipeline.build(served, self.model, data, rules=self.rules)
        self.item_index_ = {str(i): k for k, i in enumerate(data.item_vocab.ids)}
        return self

    def score_many(self, customer_idx: np.ndarray,
                   item_idx: np.ndarray | None = None) -> np.ndarray:
        data = self.data_
        idx = np.asarray(customer_idx, dtype=np.int64).ravel()
        out = np.full((len(idx), len(data.item_vocab)), np.nan)
        ids = [data.customer_vocab.id(int(c)) if c >= 0 else "" for c in idx]
        lists = self.pipeline_.recommend_many(list(dict.fromkeys(ids)), self.strategy.pool,
                                              extra_of=self.context_of, explain=False)
        for row, cid in enumerate(ids):
            items = lists[cid].items
            for rank, cand in enumerate(items):
                out[row, self.item_index_[cand.item_id]] = len(items) - rank
        if item_idx is None:
            return out
        return out[:, np.asarray(item_idx, dtype=np.int64)]


def stored_strategy_scorer(store: Store, tid: int, name: str,
                           version: int | None = None) -> StrategyScorer:
    """The scorer of a stored strategy, its named rules resolved (for ``evaluate --strategy``)."""
    from tailorcrm.customize.strategies import load_strategy, resolve_rules

    strategy = load_strategy(store.configs, tid, name, version)
    return StrategyScorer(strategy, rules=resolve_rules(strategy, store.configs, tid))
