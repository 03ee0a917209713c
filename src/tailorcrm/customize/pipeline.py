"""One recommendation pipeline for every strategy, in batch and online.

candidates → scoring (blend, fallback for cold customers) → exclusions (bought unless
repurchasable, rejected, unavailable) → consent → rules → diversity → top-N → reasons.

Scoring, exclusions, consent, fold-in of live events and reason labels are the recommend
package's :class:`~tailorcrm.recommend.ranking.Ranker`; rules and the diversity cap are plain
functions over candidates. :class:`Pipeline` composes them once, for a strategy: the shipped
``default`` (the tenant's chosen model, as trained) and every named strategy go through the
same object. :meth:`Pipeline.recommend` serves one customer (online, with fold-in);
:meth:`Pipeline.recommend_many` gives the same lists for many at once (precompute: one score
matrix, one top-k and reasons from arrays per batch).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailorcrm.customize.context import ItemView, item_views, rule_context
from tailorcrm.customize.diversity import diversify
from tailorcrm.customize.rule_engine import Candidate, RuleStats, apply_rules
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import Strategy
from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.fallback import FallbackChain
from tailorcrm.recommend.ranking import Ranker, RankingConfig
from tailorcrm.recommend.reasons import Reason
from tailorcrm.recommend.topn import top_k

__all__ = ["Pipeline", "StrategyResult", "diversify", "strategy_ranking"]

log = logging.getLogger(__name__)

_BASE = "__model__"  # placeholder reason carrying the model's share through the rules
#: Per-customer extras the rules read: ``segments``, ``needs``, ``context``.
ContextOf = Callable[[str], Mapping[str, Any]]


@dataclass
class StrategyResult:
    """The list one strategy gives one customer, and how it came about."""

    strategy: str
    customer_id: str
    items: list[Candidate]
    source: str | None = None
    rule_stats: RuleStats = field(default_factory=RuleStats)

    def item_dicts(self) -> list[dict[str, Any]]:
        """The items as the store's lists and the API carry them."""
        return [{"item_id": c.item_id, "score": round(float(c.score), 6),
                 "reasons": [r.to_dict() for r in c.reasons]} for c in self.items]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"strategy": self.strategy, "customer_id": self.customer_id,
                "source": self.source, "rule_errors": self.rule_stats.errors,
                "items": self.item_dicts()}


def strategy_ranking(strategy: Strategy, chosen: RankingConfig | None = None) -> RankingConfig:
    """The ranking config a strategy serves with.

    ``chosen`` is the config the tenant's model was chosen with (its repeat policy and
    "not personalized" label). A strategy on the tenant's model (no ``models`` of its own)
    takes the choice's repeat policy unless its ``exclusions.bought`` says otherwise; a
    strategy with models of its own excludes bought items unless it says otherwise.
    """
    base = chosen or RankingConfig()
    if strategy.is_shipped_default:
        return base
    ex = strategy.exclusions
    tenant_model = not strategy.models
    bought = ex.bought if ex.bought is not None else (base.exclude_bought if tenant_model
                                                      else True)
    return RankingConfig(
        n=strategy.count, exclude_bought=bought, bought_types=ex.bought_types,
        repurchasable_categories=ex.repurchasable_categories or (
            base.repurchasable_categories if tenant_model else ()),
        exclude_unavailable=ex.unavailable,
        reject_types=ex.rejected_types if ex.rejected else (), max_reasons=base.max_reasons,
        personalized=base.personalized if tenant_model else True)


def _consent_fallback(model: Recommender) -> Recommender | None:
    """A fitted fallback chain's last model (what consent-denied customers get)."""
    chain = getattr(model, "models", None)
    if isinstance(model, FallbackChain) and chain and len(chain) > 1 and chain[-1].is_fitted:
        return chain[-1]
    return None


@dataclass
class Pipeline:
    """A strategy's list for any customer, online or in batch, with the same result.

    Build it with :meth:`build`; ``ranker`` owns scoring, exclusions, consent, live events and
    reason labels; ``rules`` are the strategy's resolved rules.
    """

    strategy: Strategy
    ranker: Ranker
    rules: RuleSet = field(default_factory=RuleSet)
    _items: dict[str, ItemView] | None = field(default=None, init=False, repr=False)

    @classmethod
    def build(cls, strategy: Strategy, model: Recommender, data: Dataset, *,
              rules: RuleSet | None = None, chosen: RankingConfig | None = None,
              ranker: Ranker | None = None) -> Pipeline:
        """The pipeline of ``strategy`` over a fitted ``model``.

        ``rules``: resolved rules (the strategy's inline ones when None). ``chosen``: the
        ranking config the tenant's model was chosen with. ``ranker``: reuse one whose
        config already equals the strategy's (it shares live events).
        """
        config = strategy_ranking(strategy, chosen)
        if ranker is None or ranker.config != config or ranker.model is not model:
            ranker = Ranker(model=model, data=data, config=config,
                            fallback=_consent_fallback(model))
        resolved = rules if rules is not None else (
            strategy.rules if isinstance(strategy.rules, RuleSet) else RuleSet())
        return cls(strategy=strategy, ranker=ranker, rules=resolved)

    # -- shared steps ---------------------------------------------------------------------
    @property
    def data(self) -> Dataset:
        """The data the model was fitted on."""
        return self.ranker.data

    @property
    def plain(self) -> bool:
        """True when nothing re-ranks after scoring (no rules, no diversity cap)."""
        return not (self.rules.filters or self.rules.boosters) and \
            self.strategy.diversity.max_per_group is None

    @property
    def items(self) -> dict[str, ItemView]:
        """What rules and the diversity cap read of each item, built once."""
        if self._items is None:
            self._items = item_views(self.data.items)
        return self._items

    def prepare(self) -> Pipeline:
        """Build what requests would otherwise build lazily (verb table, item views)."""
        self.ranker.prepare()
        if not self.plain:
            _ = self.items
        return self

    def _count(self, n: int | None) -> int:
        return n or (self.ranker.config.n if self.strategy.is_shipped_default
                     else self.strategy.count)

    def _pool(self, n: int, rules: RuleSet | None = None) -> int:
        return n if self.plain and rules is None else max(self.strategy.pool, n)

    def _finish(self, customer_id: str, scores: np.ndarray, order: np.ndarray, n: int,
                extra: Mapping[str, Any] | None, rules: RuleSet | None
                ) -> tuple[list[Candidate], RuleStats]:
        """Rules, diversity and the cut for one customer's ranked pool ``order``."""
        ids = self.ranker.item_ids_of(order)
        base = (Reason("model", _BASE, 1.0, _BASE),)
        pool = [Candidate(i, float(scores[j]), base) for i, j in zip(ids, order, strict=True)]
        stats = RuleStats()
        ruleset = rules if rules is not None else self.rules
        if self.plain and rules is None:
            return pool[:n], stats
        extra = extra or {}
        ctx = rule_context(self.data, customer_id, segments=extra.get("segments"),
                           needs=extra.get("needs"), context=extra.get("context"))
        kept = apply_rules(pool, self.items, ctx, ruleset, stats=stats)
        return diversify(kept, self.items, self.strategy.diversity, n), stats

    @staticmethod
    def _explained(final: list[Candidate], explanations: Sequence[Sequence[Reason]]
                   ) -> list[Candidate]:
        out = []
        for cand, explained in zip(final, explanations, strict=True):
            share = next((r.weight for r in cand.reasons if r.label == _BASE), 1.0)
            by_rules = [r for r in cand.reasons if r.label != _BASE]
            scaled = [Reason(r.kind, r.label, r.weight * share, r.ref) for r in explained]
            out.append(Candidate(cand.item_id, cand.score, (*scaled, *by_rules)))
        return out

    def _source(self, used: Recommender, customer_id: str) -> str:
        ranker = self.ranker
        if used is ranker.fallback and not ranker.personalized(customer_id):
            return f"{used.name} (personalization off)"
        if isinstance(used, FallbackChain):
            return used.answering_model(ranker.customer_index(customer_id)) or ""
        return used.name

    # -- online ---------------------------------------------------------------------------
    def recommend(self, customer_id: str, n: int | None = None, *,
                  extra: Mapping[str, Any] | None = None, rules: RuleSet | None = None,
                  explain: bool = True) -> StrategyResult:
        """One customer's list: their live events folded in, rules and diversity applied.

        ``extra``: ``segments``, ``needs`` and ``context`` for the rules; ``rules``: a
        per-request override of the strategy's rules.
        """
        cid = str(customer_id)
        count = self._count(n)
        scores, used = self.ranker.scores(cid)
        scores = np.where(self.ranker.excluded(cid), np.nan, scores)
        order = top_k(scores, self._pool(count, rules))[0]
        final, stats = self._finish(cid, scores, order[order >= 0], count, extra, rules)
        explanations = self.ranker.reasons_for(used, cid, self.ranker.item_index_of(
            [c.item_id for c in final])) if explain and final else [[] for _ in final]
        return StrategyResult(self.strategy.name, cid, self._explained(final, explanations),
                              self._source(used, cid) if explain else None, stats)

    # -- batch ----------------------------------------------------------------------------
    def recommend_many(self, customer_ids: Sequence[str], n: int | None = None, *,
                       extra_of: ContextOf | None = None, rules: RuleSet | None = None,
                       explain: bool = True) -> dict[str, StrategyResult]:
        """:meth:`recommend` for many customers at once, with the same lists.

        Known, consenting customers without live events are scored as one matrix, ranked
        with one top-k and explained from arrays; anyone else takes :meth:`recommend`.
        """
        ids = [str(c) for c in customer_ids]
        count = self._count(n)
        ranker = self.ranker
        rows = ranker.batchable(ids)
        out: dict[str, StrategyResult] = {}
        if len(rows):
            idx = ranker.customer_indices([ids[i] for i in rows])
            scores = ranker.model.score_many(idx)
            answered = ~np.all(np.isnan(scores), axis=1)
            rows, idx, scores = rows[answered], idx[answered], scores[answered]
            scores = np.where(ranker.excluded_many(idx), np.nan, scores)
            best = top_k(scores, self._pool(count, rules))
            finals: list[list[Candidate]] = []
            stats: list[RuleStats] = []
            for r, i in enumerate(rows.tolist()):
                order = best[r][best[r] >= 0]
                extra = extra_of(ids[i]) if extra_of is not None else None
                final, st = self._finish(ids[i], scores[r], order, count, extra, rules)
                finals.append(final)
                stats.append(st)
            reasons = self._reasons_many(idx, finals) if explain else \
                [[[] for _ in f] for f in finals]
            for r, i in enumerate(rows.tolist()):
                source = self._source(ranker.model, ids[i]) if explain else None
                out[ids[i]] = StrategyResult(self.strategy.name, ids[i],
                                             self._explained(finals[r], reasons[r]), source,
                                             stats[r])
        for c in ids:
            if c not in out:
                extra = extra_of(c) if extra_of is not None else None
                out[c] = self.recommend(c, n, extra=extra, rules=rules, explain=explain)
        return {c: out[c] for c in ids}

    def _reasons_many(self, customer_idx: np.ndarray, finals: list[list[Candidate]]
                      ) -> list[list[list[Reason]]]:
        """Labelled reasons of every listed item of batch customers, from arrays at once."""
        lengths = [len(f) for f in finals]
        if not sum(lengths):
            return [[] for _ in finals]
        pair_customer = np.repeat(customer_idx, lengths)
        pair_item = self.ranker.item_index_of([c.item_id for f in finals for c in f])
        flat = self.ranker.reasons_many(pair_customer, pair_item)
        out: list[list[list[Reason]]] = []
        at = 0
        for length in lengths:
            out.append(flat[at:at + length])
            at += length
        return out
