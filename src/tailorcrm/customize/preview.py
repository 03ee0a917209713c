"""Preview an edited strategy or rule set before saving it: offline figures against the
active one on the tenant's own validation carve, and a few customers' lists before and after.

The carve is the one training chose the tenant's recommender on (each customer's newest
events held out, or the newest events overall; :func:`tailorcrm.recommend.carve.carve`), and
the tenant's model is refitted on the carve's fit part, so the figures never see the held-out
events. Both versions run through the same :class:`~tailorcrm.customize.pipeline.Pipeline`
(exclusions, consent, rules, diversity), so a rule that removes relevant items lowers nDCG
and one that narrows the lists lowers coverage. Rules that read ``segments`` or ``needs``
see the stored ones (scored on all events): a small optimism the preview shares between the
two versions. Sample lists are scored by the served model (fitted on all events) without
their newest live events, the same way for both versions.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailorcrm.customize.pipeline import Pipeline
from tailorcrm.customize.precompute import rule_inputs
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import Strategy, strategy_to_recommender
from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import NotFittedError
from tailorcrm.evaluation.metrics import catalog_coverage, novelty, ranking_metrics
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.carve import Carve, carve
from tailorcrm.recommend.ranking import RankingConfig
from tailorcrm.recommend.selection import (
    Selection,
    build_choice,
    capped_hybrid,
    load_selection_config,
    served_ranking,
)
from tailorcrm.store import Store

RECOMMENDER = "recommender"
K = 10
MAX_CUSTOMERS = 500  # judged customers per preview (a sample of the carve's): seconds, not minutes


@dataclass(frozen=True)
class Figures:
    """Offline figures of one version: nDCG@10, catalog coverage, novelty (mean
    self-information of recommended items, bits), and how many customers were judged."""

    ndcg: float
    coverage: float
    novelty: float
    customers: int


@dataclass(frozen=True)
class Sample:
    """One customer's list before (active) and after (edited): ``(item_id, score)``."""

    customer_id: str
    before: list[tuple[str, float]]
    after: list[tuple[str, float]]

    @property
    def changed(self) -> bool:
        """Whether the edit changes this customer's list."""
        return [i for i, _ in self.before] != [i for i, _ in self.after]


@dataclass
class Preview:
    """The active and the edited version side by side."""

    active: Figures
    edited: Figures
    samples: list[Sample]
    carve: str
    seconds: float
    notes: list[str] = field(default_factory=list)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()
                          ).hexdigest()[:16]


class PreviewBench:
    """A tenant's validation carve and the models fitted on it, kept so that previewing many
    edits costs only their pipelines (a strategy with models of its own is fitted once per
    distinct model config)."""

    def __init__(self, store: Store, tid: int) -> None:
        record = store.models.active(tid, RECOMMENDER)
        if record is None:
            raise NotFittedError("no trained recommender yet: train first, then preview")
        self.version = record.version
        self.data: Dataset = store.load_dataset(tid)
        cfg = load_selection_config(store.configs, tid)
        self.cut: Carve = carve(self.data, kind=cfg.carve, share=cfg.holdout_share,
                                global_share=cfg.global_holdout_share,
                                max_customers=MAX_CUSTOMERS, random_state=cfg.random_state)
        selection = Selection.model_validate(record.metrics.get("selection") or {
            "chosen": "default", "personalized": True, "repeats": "exclude"})
        self.ranking: RankingConfig = served_ranking(selection, RankingConfig())
        self._selection, self._hybrid = selection, capped_hybrid(cfg)
        self._models: dict[str, Recommender] = {}
        self._lock = threading.Lock()

    def model_for(self, strategy: Strategy) -> Recommender:
        """The strategy's model fitted on the carve's fit part (the tenant's, or its own)."""
        key = "tenant" if strategy.uses_tenant_model else _digest(
            [m.model_dump(mode="json") for m in (*strategy.models, *strategy.fallback)])
        with self._lock:
            found = self._models.get(key)
            if found is None:
                fresh = (build_choice(self._selection, self._hybrid)
                         if strategy.uses_tenant_model else strategy_to_recommender(strategy))
                found = self._models[key] = fresh.fit(self.cut.fit)
            return found

    def figures(self, store: Store, tid: int, strategy: Strategy, rules: RuleSet) -> Figures:
        """The strategy's offline figures on the carve."""
        fit = self.cut.fit
        pipeline = Pipeline.build(strategy, self.model_for(strategy), fit, rules=rules,
                                  chosen=self.ranking)
        rows = self.cut.customers
        ids = [str(c) for c in fit.customer_vocab.ids[rows]]
        lists = pipeline.recommend_many(ids, K, extra_of=rule_inputs(store, tid, rules),
                                        explain=False)
        recommended = np.full((len(rows), K), -1, dtype=np.int64)
        for r, cid in enumerate(ids):
            found = lists.get(cid)
            for j, cand in enumerate(found.items[:K] if found else ()):
                recommended[r, j] = fit.item_vocab.index_of(cand.item_id)
        train = fit.interaction_matrix(weighting="binary")
        metrics = ranking_metrics(recommended, self.cut.relevant[rows], K)
        return Figures(ndcg=round(metrics["ndcg"], 4),
                       coverage=round(catalog_coverage(recommended, train), 4),
                       novelty=round(novelty(recommended, train), 3),
                       customers=int(metrics["n_users"]))


def sample_lists(store: Store, tid: int, served: Pipeline, edited: Pipeline,
                 customer_ids: list[str]) -> list[Sample]:
    """The lists of ``customer_ids`` from the active and the edited pipeline."""
    def lists(p: Pipeline) -> list[list[tuple[str, float]]]:
        extra_of = rule_inputs(store, tid, p.rules)  # the tenant's segments/needs read once
        return [[(c.item_id, round(float(c.score), 4))
                 for c in p.recommend(cid, K, extra=extra_of(cid), explain=False).items]
                for cid in customer_ids]

    return [Sample(cid, before, after) for cid, before, after
            in zip(customer_ids, lists(served), lists(edited), strict=True)]


def preview(bench: PreviewBench, store: Store, tid: int, *, active: Strategy,
            active_rules: RuleSet, edited: Strategy, edited_rules: RuleSet,
            served_model: Recommender | None, served_data: Dataset | None,
            served_ranking_config: RankingConfig | None, customers: list[str]) -> Preview:
    """Figures of both versions and the sample customers' lists before and after."""
    started = time.perf_counter()
    before = bench.figures(store, tid, active, active_rules)
    after = bench.figures(store, tid, edited, edited_rules)
    samples: list[Sample] = []
    notes: list[str] = []
    if served_model is not None and served_data is not None:
        known = [c for c in customers if served_data.customer_vocab.index_of(c) >= 0]
        if known:
            own = not active.uses_tenant_model or not edited.uses_tenant_model
            if own:
                notes.append("a strategy with models of its own is shown in the samples "
                             "with its carve-fitted model")
            def model(s: Strategy) -> Recommender:
                return served_model if s.uses_tenant_model else bench.model_for(s)
            p_before = Pipeline.build(active, model(active), served_data, rules=active_rules,
                                      chosen=served_ranking_config)
            p_after = Pipeline.build(edited, model(edited), served_data, rules=edited_rules,
                                     chosen=served_ranking_config)
            samples = sample_lists(store, tid, p_before, p_after, known)
    if before.customers < 20:
        notes.append(f"only {before.customers} customers could be judged: the figures are "
                     "noisy")
    return Preview(before, after, samples, str(bench.cut.description.get("rule", "")),
                   round(time.perf_counter() - started, 2), notes)
