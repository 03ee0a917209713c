"""Serving a strategy for one customer: scores → exclusions → rules → diversity → top-N, reasons.

Every step is a plain function over candidates, composed by :func:`recommend_with_strategy`;
the diversity re-ranker wraps nothing and inherits nothing, it only re-orders a list.
:class:`StrategyScorer` exposes the whole pipeline with the ``fit`` / ``score_many`` API the
evaluation engine calls, so ``tailorcrm evaluate --strategy NAME`` measures what customers see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd

from tailorcrm.customize.context import ItemView, item_views, rule_context
from tailorcrm.customize.rule_engine import Candidate, RuleStats, apply_rules
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import Diversity, Exclusions, Strategy
from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.reasons import Reason

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


def excluded_mask(data: Dataset, customer_id: str, exclusions: Exclusions, *,
                  rejected: Iterable[str] = ()) -> np.ndarray:
    """Items (over ``data.item_vocab``) this customer must not be shown.

    Bought items stay allowed when one of their categories is repurchasable; ``rejected``
    adds live rejections not yet in ``data``.
    """
    mask = np.zeros(len(data.item_vocab), dtype=bool)
    ev = data.events[data.events["customer_id"] == str(customer_id)]
    ev = ev[ev["item_id"].notna()]
    if exclusions.bought:
        bought = list(ev.loc[ev["type"].isin(exclusions.bought_types), "item_id"].unique())
        keep = set(exclusions.repurchasable_categories)
        if keep and "categories" in data.items:
            cats = data.items["categories"].reindex(bought)
            bought = [i for i, c in zip(bought, cats, strict=True)
                      if not (isinstance(c, list | tuple | np.ndarray) and keep & set(c))]
        mask[_known(data.item_vocab.index(bought))] = True
    if exclusions.rejected:
        ids = list(ev.loc[ev["type"].isin(exclusions.rejected_types), "item_id"].unique())
        mask[_known(data.item_vocab.index(ids + [str(r) for r in rejected]))] = True
    if exclusions.unavailable and "available" in data.items:
        gone = data.items.index[data.items["available"].eq(False)]
        mask[_known(data.item_vocab.index(list(gone)))] = True
    return mask


def _known(idx: np.ndarray) -> np.ndarray:
    return idx[idx >= 0]


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


def _model_reasons(model: Recommender, data: Dataset, customer_idx: int,
                   item_idx: int) -> list[Reason]:
    try:
        reasons = model.explain(customer_idx, item_idx) if customer_idx >= 0 else []
    except Exception:
        log.debug("explain failed for item %d", item_idx, exc_info=True)
        reasons = []
    out = []
    for r in reasons:
        label = r.label
        if r.kind == "history_item" and not label and r.ref.isdigit():
            hist_id = data.item_vocab.id(int(r.ref))
            title = data.items["title"].get(hist_id) if "title" in data.items else None
            label = f"bought {title or hist_id}"
            out.append(Reason(r.kind, label, r.weight, hist_id))
        else:
            out.append(r)
    return out


def recommend_with_strategy(
    data: Dataset, model: Recommender, strategy: Strategy, customer_id: str, *,
    n: int | None = None, rules: RuleSet | None = None,
    context: Mapping[str, Any] | None = None, segments: Mapping[str, str] | None = None,
    needs: Mapping[str, float] | None = None, rejected: Iterable[str] = (),
    items: Mapping[str, ItemView] | None = None, explain: bool = True,
) -> StrategyResult:
    """Recommend for one customer with a fitted ``model`` of ``strategy``.

    Parameters
    ----------
    data:
        The data set ``model`` was fitted on (its vocabularies index the scores).
    model:
        :func:`~tailorcrm.customize.strategies.strategy_to_recommender` of ``strategy``, fitted.
    rules:
        The resolved rules (:func:`~tailorcrm.customize.strategies.resolve_rules`, or a
        per-request override); the strategy's inline rules when None.
    context, segments, needs:
        What the rules see besides the item and the customer's fields.
    items:
        Pre-built item views (:func:`~tailorcrm.customize.context.item_views`) to reuse
        across calls; built for the candidate pool otherwise.
    explain:
        Attach the model's reasons to the final items (costs one explain per item).
    """
    count = n or strategy.count
    ruleset = rules if rules is not None else (
        strategy.rules if isinstance(strategy.rules, RuleSet) else RuleSet())
    cidx = data.customer_vocab.index_of(customer_id)
    source = None
    if hasattr(model, "score_with_source"):
        rows, sources = model.score_with_source(np.asarray([cidx]))
        scores, source = rows[0], sources[0]
    else:
        scores = model.score(cidx)
        source = model.name
    scores = np.where(excluded_mask(data, customer_id, strategy.exclusions, rejected=rejected),
                      np.nan, scores)
    finite = np.flatnonzero(np.isfinite(scores))
    pool_size = max(strategy.pool, count)
    order = finite[np.lexsort((finite, -scores[finite]))][:pool_size]
    ids = [data.item_vocab.id(int(i)) for i in order]
    if items is None:
        items = item_views(data.items.loc[data.items.index.intersection(pd.Index(ids))])
    base = (Reason("model", _BASE, 1.0, _BASE),)
    pool = [Candidate(i, float(scores[j]), base) for i, j in zip(ids, order, strict=True)]
    stats = RuleStats()
    ctx = rule_context(data, customer_id, segments=segments, needs=needs, context=context)
    ranked = apply_rules(pool, items, ctx, ruleset, stats=stats)
    final = diversify(ranked, items, strategy.diversity, count)
    out = []
    for cand in final:
        share = next((r.weight for r in cand.reasons if r.label == _BASE), 1.0)
        rules_reasons = [r for r in cand.reasons if r.label != _BASE]
        explained = _model_reasons(model, data, cidx, data.item_vocab.index_of(cand.item_id)
                                   ) if explain else []
        scaled = [Reason(r.kind, r.label, r.weight * share, r.ref) for r in explained]
        out.append(Candidate(cand.item_id, cand.score, (*scaled, *rules_reasons)))
    return StrategyResult(strategy.name, str(customer_id), out, source, stats)


class StrategyScorer:
    """A strategy with the ``fit`` / ``score_many`` API of the evaluation engine.

    ``score_many`` runs the full pipeline per customer and encodes the final list as scores
    (``len(list) - rank`` for listed items, NaN elsewhere), so a top-k taken from them is
    exactly what the strategy would show. ``context_of`` may supply each customer's
    segments / needs / request context for the rules.
    """

    def __init__(self, strategy: Strategy, *, rules: RuleSet | None = None,
                 context_of: Callable[[str], dict[str, Any]] | None = None) -> None:
        from tailorcrm.customize.strategies import strategy_to_recommender

        self.strategy = strategy
        self.rules = rules
        self.context_of = context_of
        self.model = strategy_to_recommender(strategy)

    def fit(self, data: Dataset) -> Self:
        self.model.fit(data)
        self.data_ = data
        self.items_ = item_views(data.items)
        return self

    def score_many(self, customer_idx: np.ndarray,
                   item_idx: np.ndarray | None = None) -> np.ndarray:
        data = self.data_
        idx = np.asarray(customer_idx, dtype=np.int64).ravel()
        out = np.full((len(idx), len(data.item_vocab)), np.nan)
        for row, cidx in enumerate(idx):
            cid = data.customer_vocab.id(int(cidx)) if cidx >= 0 else ""
            extra = self.context_of(cid) if self.context_of is not None else {}
            result = recommend_with_strategy(
                data, self.model, self.strategy, cid, n=self.strategy.pool, rules=self.rules,
                items=self.items_, explain=False, **extra)
            for rank, cand in enumerate(result.items):
                out[row, data.item_vocab.index_of(cand.item_id)] = len(result.items) - rank
        if item_idx is None:
            return out
        return out[:, np.asarray(item_idx, dtype=np.int64)]
