"""Precompute a stored strategy's lists for every customer, stamped for staleness checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from tailorcrm.customize.context import item_views
from tailorcrm.customize.pipeline import recommend_with_strategy, strategy_ranker
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import (
    Strategy,
    load_strategy,
    resolve_rules,
    strategy_to_recommender,
)
from tailorcrm.data.dataset import Dataset
from tailorcrm.store import Store

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]


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


def strategy_hash(strategy: Strategy, rules: RuleSet) -> str:
    """A short hash of the strategy and its resolved rules: lists go stale when either changes."""
    body = json.dumps({"strategy": strategy.model_dump(mode="json"),
                       "rules": rules.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def precompute_strategy(store: Store, tid: int, name: str, *, data: Dataset | None = None,
                        customer_ids: Sequence[str] | None = None,
                        progress: Progress = _silent,
                        erased_after: int | None = None) -> PrecomputeReport:
    """Fit the stored strategy ``name`` on the tenant's data and store every customer's list.

    Each customer's rules see their stored segments and need scores. Lists are written with
    ``store.recommendations.replace(tid, name, rows)`` (``items`` are ``{item_id, score,
    reasons}``), stamped with the fit time as model version and :func:`strategy_hash`.
    Customers erased after the tombstone watermark ``erased_after`` (taken before ``data``
    was read; taken here when this function reads the data itself) get no list.
    """
    versions = store.configs.versions(tid, "strategy", name)
    strategy = load_strategy(store.configs, tid, name)
    rules = resolve_rules(strategy, store.configs, tid)
    if data is None:
        erased_after = store.tombstones.watermark(tid) if erased_after is None else erased_after
        data = store.load_dataset(tid)
    model = strategy_to_recommender(strategy).fit(data)
    model_version = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    chash = strategy_hash(strategy, rules)
    ranker = strategy_ranker(strategy, model, data)
    views = item_views(data.items)
    ids = [str(c) for c in (customer_ids if customer_ids is not None
                            else data.customer_vocab.ids)]
    rows: list[dict[str, Any]] = []
    errors = 0
    progress(f"precompute {name}", 0, len(ids))
    for i, customer_id in enumerate(ids, 1):
        segments = store.segments.of_customer(tid, customer_id)
        needs = {k: r.score for k, r in store.need_scores.for_customer(tid, customer_id).items()}
        result = recommend_with_strategy(ranker, strategy, customer_id, rules=rules,
                                         segments=segments, needs=needs, items=views)
        errors += result.rule_stats.errors
        rows.append({"customer_id": customer_id, "model_version": model_version,
                     "config_hash": chash, "items": result.to_dict()["items"]})
        if i % 100 == 0 or i == len(ids):
            progress(f"precompute {name}", i, len(ids))
    stored = store.recommendations.replace(tid, name, rows, erased_after=erased_after)
    log.info("strategy %s: %d lists stored (%d rule errors)", name, stored, errors)
    return PrecomputeReport(strategy=name, version=versions[-1] if versions else None,
                            config_hash=chash, model_version=model_version, lists=stored,
                            rule_errors=errors)
