"""Precompute a strategy's lists for every customer, in batches, stamped for staleness checks.

One loop for every strategy: the default list of a training run and each named strategy go
through :func:`precompute_lists` over their :class:`~tailorcrm.customize.pipeline.Pipeline`;
:func:`pipeline_hash` is the one config hash a list carries, so serving can tell a fresh list
from a stale one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from tailorcrm.customize.pipeline import Pipeline
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import (
    Strategy,
    load_strategy,
    resolve_rules,
    strategy_to_recommender,
)
from tailorcrm.data.dataset import Dataset
from tailorcrm.recommend.ranking import RankingConfig
from tailorcrm.store import Store
from tailorcrm.store.model_store import save_vocab

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]
#: Scores one precompute batch may hold (customers × items), which bounds its memory.
BATCH_SCORES = 2_000_000
STRATEGY_MODEL_PREFIX = "strategy:"  # registry name of a strategy's own fitted model


def _silent(step: str, done: int, total: int | None) -> None:
    """No progress output (the CLI passes a Rich bar)."""


class PrecomputeReport(BaseModel):
    """What one precompute run stored."""

    model_config = ConfigDict(extra="forbid")

    strategy: str
    version: int | None
    config_hash: str
    model_version: str
    lists: int
    rule_errors: int


def pipeline_hash(strategy: Strategy, rules: RuleSet, ranking: RankingConfig) -> str:
    """A short hash of what shapes a strategy's lists besides the model: the strategy, its
    resolved rules and the ranking config it serves with. Lists go stale when it changes."""
    body = json.dumps({"strategy": strategy.model_dump(mode="json"),
                       "rules": rules.model_dump(mode="json"),
                       "ranking": ranking.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def strategy_model_name(strategy: str) -> str:
    """The model registry name of a strategy's own fitted model."""
    return f"{STRATEGY_MODEL_PREFIX}{strategy}"


_READS = {"segments": re.compile(r"\bsegments?\b"), "needs": re.compile(r"\bneeds\b")}


def rule_reads(rules: RuleSet) -> set[str]:
    """Which stored customer results the rules mention: ``segments`` and/or ``needs``
    (a mention is enough: reading too much is harmless, too little is not)."""
    text = " ".join([r.expression for r in rules.filters] +
                    [f"{r.when} {r.factor}" for r in rules.boosters])
    return {name for name, pattern in _READS.items() if pattern.search(text)}


def rule_inputs(store: Store, tid: int, rules: RuleSet) -> Callable[[str], dict[str, Any]]:
    """Each customer's ``segments`` and ``needs`` for the rules, read for the whole tenant in
    one query each, and only when some rule mentions them."""
    reads = rule_reads(rules)
    segments = store.bulk.segments(tid) if "segments" in reads else {}
    needs = store.bulk.need_scores(tid) if "needs" in reads else {}

    def extra_of(customer_id: str) -> dict[str, Any]:
        return {"segments": segments.get(customer_id, {}), "needs": needs.get(customer_id, {})}

    return extra_of


def precompute_lists(pipeline: Pipeline, customer_ids: Sequence[str], *, model_version: str,
                     config_hash: str, extra_of: Callable[[str], Mapping[str, Any]] | None = None,
                     progress: Progress = _silent, label: str = "precompute"
                     ) -> tuple[list[dict[str, Any]], int]:
    """Every customer's list as store rows, batch by batch (one score matrix per batch,
    bounded by :data:`BATCH_SCORES`); returns the rows and the rule errors counted."""
    ids = [str(c) for c in customer_ids]
    step = max(1, min(BATCH_SCORES // max(pipeline.data.n_items, 1), len(ids) // 10 or 1))
    rows: list[dict[str, Any]] = []
    errors = 0
    progress(label, 0, len(ids))
    for start in range(0, len(ids), step):
        for cid, result in pipeline.recommend_many(ids[start:start + step],
                                                   extra_of=extra_of).items():
            errors += result.rule_stats.errors
            rows.append({"customer_id": cid, "model_version": model_version,
                         "config_hash": config_hash, "items": result.item_dicts()})
        progress(label, min(start + step, len(ids)), len(ids))
    return rows, errors


def precompute_strategy(store: Store, tid: int, name: str, *, data: Dataset | None = None,
                        customer_ids: Sequence[str] | None = None,
                        progress: Progress = _silent, erased_after: int | None = None,
                        artifacts: Path | None = None,
                        tenant_pipeline: Pipeline | None = None,
                        tenant_version: str | None = None) -> PrecomputeReport:
    """Fit the stored strategy ``name`` on the tenant's data and store every customer's list.

    A strategy with models of its own fits them, saves them under ``artifacts`` (the model
    store's root by default) and registers them as ``strategy:<name>`` (active), so that a
    server can score it online when a list is stale or missing. A strategy on the tenant's
    model ranks with ``tenant_pipeline``'s model (the training run's candidate) or, without
    one, skips: its lists are made by the next training run. Each customer's rules see their
    stored segments and need scores. Customers erased after the tombstone watermark
    ``erased_after`` (taken before ``data`` was read; taken here when this function reads
    the data itself) get no list.
    """
    versions = store.configs.versions(tid, "strategy", name)
    strategy = load_strategy(store.configs, tid, name)
    rules = resolve_rules(strategy, store.configs, tid)
    if data is None:
        erased_after = store.tombstones.watermark(tid) if erased_after is None else erased_after
        data = store.load_dataset(tid)
    if strategy.uses_tenant_model:
        if tenant_pipeline is None or tenant_version is None:
            log.info("strategy %s serves the tenant's model: its lists are made by the "
                     "training run (served online until then)", name)
            return PrecomputeReport(strategy=name, version=versions[-1] if versions else None,
                                    config_hash="", model_version="", lists=0, rule_errors=0)
        pipeline = Pipeline.build(strategy, tenant_pipeline.ranker.model, data, rules=rules,
                                  chosen=tenant_pipeline.ranker.config)
        model_version = tenant_version
    else:
        model = strategy_to_recommender(strategy).fit(data)
        model_version = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        pipeline = Pipeline.build(strategy, model, data, rules=rules)
        folder = Path(artifacts) / f"tenant-{tid}" / f"strategy-{name}" / model_version \
            if artifacts is not None else \
            store.model_store.artifact_dir(tid, f"strategy-{name}", model_version)
        path = Path(model.save(folder))
        save_vocab(path, data)  # lets a server line up data that grows after this fit
        store.models.register(tid, strategy_model_name(name), model_version, model.name,
                              str(path), {"strategy": name}, "", activate=False)
    chash = pipeline_hash(strategy, rules, pipeline.ranker.config)
    ids = customer_ids if customer_ids is not None else [str(c) for c in
                                                         data.customer_vocab.ids]
    rows, errors = precompute_lists(pipeline, ids, model_version=model_version,
                                    config_hash=chash, extra_of=rule_inputs(store, tid, rules),
                                    progress=progress, label=f"precompute {name}")
    stored = store.recommendations.replace(tid, name, rows, erased_after=erased_after)
    if not strategy.uses_tenant_model:
        store.models.activate(tid, strategy_model_name(name), model_version)
    log.info("strategy %s: %d lists stored (%d rule errors)", name, stored, errors)
    return PrecomputeReport(strategy=name, version=versions[-1] if versions else None,
                            config_hash=chash, model_version=model_version, lists=stored,
                            rule_errors=errors)
