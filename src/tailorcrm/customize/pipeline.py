"""Serving a strategy for one customer: scores → exclusions → rules → diversity → top-N, reasons.

Scores, exclusions, consent and reason labels come from the recommend package's
:class:`~tailorcrm.recommend.ranking.Ranker`; rules and the diversity re-ranker are plain
functions over candidates, composed by :func:`recommend_with_strategy` (the re-ranker wraps
nothing and inherits nothing, it only re-orders a list).
:class:`StrategyScorer` exposes the whole pipeline with the ``fit`` / ``score_many`` API the
evaluation engine calls, so ``tailorcrm evaluate --strategy NAME`` measures what customers see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd

from tailorcrm.customize.context import ItemView, item_views, rule_context
from tailorcrm.customize.rule_engine import Candidate, RuleStats, apply_rules
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import Diversity, Strategy
from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.ranking import Ranker, RankingConfig
from tailorcrm.recommend.reasons import Reason
from tailorcrm.store import Store

log = logging.getLogger(__name__)

_BASE = "__model__"  # placeholder reason carrying the model's share through the rules


@dataclass
class StrategyResult:
    """The list one strategy gives one customer, and how it came about."""

    strategy: str
    customer_id: str
    items: list[Candidate]
    source: str | None = None
    rule_stats: RuleStats = field(default_factory=RuleStats)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the store's recommendation lists and the API carry)."""
        return {"strategy": self.strategy, "customer_id": self.customer_id,
                "source": self.source, "rule_errors": self.rule_stats.errors,
                "items": [{"item_id": c.item_id, "score": round(float(c.score), 6),
                           "reasons": [r.to_dict() for r in c.reasons]} for c in self.items]}


def strategy_ranker(strategy: Strategy, model: Recommender, data: Dataset) -> Ranker:
    """The recommend package's :class:`~tailorcrm.recommend.ranking.Ranker` for a strategy.

    It owns exclusions (bought unless repurchasable, unavailable, rejected), consent (a
    customer who denied personalization gets non-personalized scores) and live feedback
    (:meth:`Ranker.add_events`). Its consent fallback is the strategy's last fallback model
    when ``model`` is a fitted fallback chain (popularity, fitted here otherwise).
    """
    ex = strategy.exclusions
    config = RankingConfig(
        n=strategy.count, exclude_bought=ex.bought, bought_types=ex.bought_types,
        repurchasable_categories=ex.repurchasable_categories,
        exclude_unavailable=ex.unavailable, reject_types=ex.rejected_types if ex.rejected
        else ())
    chain = getattr(model, "models", None)
    fallback = chain[-1] if isinstance(model, FallbackChain) and chain and len(chain) > 1 \
        and chain[-1].is_fitted else None
    return Ranker(model=model, data=data, config=config, fallback=fallback)


def diversify(candidates: list[Candidate], items: Mapping[str, Mapping[str, Any]],
              diversity: Diversity, n: int) -> list[Candidate]:
    """The best ``n`` candidates with at most ``max_per_group`` per value of the field.

    Greedy in score order (the usual cap re-ranker); a list-valued field (``categories``)
    counts towards each of its values. Items without the field are never capped. The list
    may come back shorter than ``n`` when the cap leaves too few items.
    """
    cap = diversity.max_per_group
    if cap is None:
        return candidates[:n]
    counts: dict[str, int] = {}
    out: list[Candidate] = []
    for cand in candidates:
        value = (items.get(cand.item_id) or {}).get(diversity.field)
        groups = [str(v) for v in value] if isinstance(value, list | tuple) else (
            [] if value is None else [str(value)])
        if any(counts.get(g, 0) >= cap for g in groups):
            continue
        for g in groups:
            counts[g] = counts.get(g, 0) + 1
        out.append(cand)
        if len(out) == n:
            break
    return out


def _source(ranker: Ranker, used: Recommender, customer_id: str) -> str:
    if used is ranker.fallback and not ranker.personalized(customer_id):
        return f"{used.name} (personalization off)"
    if isinstance(used, FallbackChain):
        return used.answering_model(ranker.data.customer_vocab.index_of(customer_id)) or ""
    return used.name


def recommend_with_strategy(
    ranker: Ranker, strategy: Strategy, customer_id: str, *, n: int | None = None,
    rules: RuleSet | None = None, context: Mapping[str, Any] | None = None,
    segments: Mapping[str, str] | None = None, needs: Mapping[str, float] | None = None,
    items: Mapping[str, ItemView] | None = None, explain: bool = True,
    scores: np.ndarray | None = None,
) -> StrategyResult:
    """Recommend for one customer: scores → exclusions → rules → diversity → top-N.

    Parameters
    ----------
    ranker:
        :func:`strategy_ranker` of the strategy with its fitted model
        (:func:`~tailorcrm.customize.strategies.strategy_to_recommender`).
    rules:
        The resolved rules (:func:`~tailorcrm.customize.strategies.resolve_rules`, or a
        per-request override); the strategy's inline rules when None.
    context, segments, needs:
        What the rules see besides the item and the customer's fields.
    items:
        Pre-built item views (:func:`~tailorcrm.customize.context.item_views`) to reuse
        across calls; built for the candidate pool otherwise.
    explain:
        Attach the model's labelled reasons and the answering model's name (costs one
        explain per item and, for a fallback chain, one more scoring).
    scores:
        This customer's all-item scores from ``ranker.model`` when a batch path computed
        them already (personalized customers only); the ranker scores otherwise.
    """
    data = ranker.data
    count = n or strategy.count
    ruleset = rules if rules is not None else (
        strategy.rules if isinstance(strategy.rules, RuleSet) else RuleSet())
    if scores is None:
        scores, used = ranker.scores(str(customer_id))
    else:
        used = ranker.model
    scores = np.where(ranker.excluded(str(customer_id)), np.nan, scores)
    finite = np.flatnonzero(np.isfinite(scores))
    order = finite[np.lexsort((finite, -scores[finite]))][:max(strategy.pool, count)]
    ids = [str(i) for i in np.asarray(data.item_vocab.ids)[order]]
    if items is None:
        items = item_views(data.items.loc[data.items.index.intersection(pd.Index(ids))])
    base = (Reason("model", _BASE, 1.0, _BASE),)
    pool = [Candidate(i, float(scores[j]), base) for i, j in zip(ids, order, strict=True)]
    stats = RuleStats()
    ctx = rule_context(data, customer_id, segments=segments, needs=needs, context=context)
    final = diversify(apply_rules(pool, items, ctx, ruleset, stats=stats), items,
                      strategy.diversity, count)
    explanations = ranker.reasons_for(used, str(customer_id), data.item_vocab.index(
        [c.item_id for c in final])) if explain and final else [[] for _ in final]
    out = []
    for cand, explained in zip(final, explanations, strict=True):
        share = next((r.weight for r in cand.reasons if r.label == _BASE), 1.0)
        by_rules = [r for r in cand.reasons if r.label != _BASE]
        scaled = [Reason(r.kind, r.label, r.weight * share, r.ref) for r in explained]
        out.append(Candidate(cand.item_id, cand.score, (*scaled, *by_rules)))
    source = _source(ranker, used, str(customer_id)) if explain else None
    return StrategyResult(strategy.name, str(customer_id), out, source, stats)


class StrategyScorer:
    """A strategy with the ``fit`` / ``score_many`` API of the evaluation engine.

    ``score_many`` runs the full pipeline per customer and encodes the final list as scores
    (``len(list) - rank`` for listed items, NaN elsewhere), so a top-k taken from them is
    exactly what the strategy would show. ``context_of`` may supply each customer's
    segments / needs / request context for the rules. With ``exclude_seen`` (default)
    every item in a customer's training history is excluded before rules and diversity, as
    the evaluation protocol removes seen items from every list (otherwise a cap could spend
    its slots on items the protocol then drops).
    """

    def __init__(self, strategy: Strategy, *, rules: RuleSet | None = None,
                 context_of: Callable[[str], dict[str, Any]] | None = None,
                 exclude_seen: bool = True) -> None:
        from tailorcrm.customize.strategies import strategy_to_recommender

        self.strategy = strategy
        self.rules = rules
        self.context_of = context_of
        self.exclude_seen = exclude_seen
        self.model = strategy_to_recommender(strategy)

    def fit(self, data: Dataset) -> Self:
        self.model.fit(data)
        self.data_ = data
        served = self.strategy
        if self.exclude_seen:
            seen = served.exclusions.model_copy(update={
                "bought": True, "repurchasable_categories": (),
                "bought_types": tuple(sorted(map(str, data.events["type"].unique())))})
            served = served.model_copy(update={"exclusions": seen})
        self.ranker_ = strategy_ranker(served, self.model, data)
        self.items_ = item_views(data.items)
        self.item_index_ = {str(i): k for k, i in enumerate(data.item_vocab.ids)}
        return self

    def score_many(self, customer_idx: np.ndarray,
                   item_idx: np.ndarray | None = None) -> np.ndarray:
        data = self.data_
        idx = np.asarray(customer_idx, dtype=np.int64).ravel()
        out = np.full((len(idx), len(data.item_vocab)), np.nan)
        batch = self.model.score_many(idx)  # one batched scoring; the ranker covers the rest
        for row, cidx in enumerate(idx):
            cid = data.customer_vocab.id(int(cidx)) if cidx >= 0 else ""
            direct = batch[row] if cidx >= 0 and self.ranker_.personalized(cid) and not \
                np.all(np.isnan(batch[row])) else None
            extra = self.context_of(cid) if self.context_of is not None else {}
            result = recommend_with_strategy(
                self.ranker_, self.strategy, cid, n=self.strategy.pool, rules=self.rules,
                items=self.items_, explain=False, scores=direct, **extra)
            for rank, cand in enumerate(result.items):
                out[row, self.item_index_[cand.item_id]] = len(result.items) - rank
        if item_idx is None:
            return out
        return out[:, np.asarray(item_idx, dtype=np.int64)]


def stored_strategy_scorer(store: Store, tid: int, name: str,
                           version: int | None = None) -> StrategyScorer:
    """The scorer of a stored strategy, its named rules resolved (for ``evaluate --strategy``)."""
    from tailorcrm.customize.strategies import load_strategy, resolve_rules

    strategy = load_strategy(store.configs, tid, name, version)
    return StrategyScorer(strategy, rules=resolve_rules(strategy, store.configs, tid))
