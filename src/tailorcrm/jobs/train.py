"""The offline training job of one tenant: recommendations, needs and segments, stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.jobs.progress import ProgressFn, no_progress
from tailorcrm.needs.definitions import list_needs
from tailorcrm.needs.rfm import rfm_table
from tailorcrm.needs.scoring import publish
from tailorcrm.needs.segments import behavioural_segments
from tailorcrm.needs.training import train_need
from tailorcrm.recommend.default import default_recommender
from tailorcrm.recommend.ranking import Ranker, RankingConfig
from tailorcrm.store import Store

log = logging.getLogger(__name__)

RECOMMENDER_NAME = "recommender"


class TrainConfig(BaseModel):
    """What the training job does; every step can be switched off."""

    model_config = ConfigDict(extra="forbid")

    recommend: bool = True
    precompute: bool = True
    needs: bool = True
    segments: bool = True
    strategies: bool = True
    strategy: str = "default"
    ranking: RankingConfig = Field(default_factory=RankingConfig)


class TrainReport(BaseModel):
    """What one run trained and stored, with the seconds each step took."""

    model_config = ConfigDict(extra="forbid")

    customers: int
    items: int
    events: int
    recommender_version: str | None = None
    recommendation_lists: int = 0
    needs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    segmentations: dict[str, int] = Field(default_factory=dict)
    strategies: dict[str, int] = Field(default_factory=dict)
    seconds: dict[str, float] = Field(default_factory=dict)


def config_hash(config: BaseModel) -> str:
    """A short stable hash of a config: precomputed lists carry it and go stale with it."""
    body = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _version() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def train_recommender(store: Store, tid: int, data: Dataset, artifacts: Path,
                      config: TrainConfig, report: TrainReport, progress: ProgressFn) -> Ranker:
    """Fit the default recommender, save and activate it, and precompute every list."""
    from tailorcrm.serving.cache import save_vocab  # serving reads this job's names

    started = time.perf_counter()
    progress("recommender: fit", 0, 1)
    model = default_recommender().fit(data)
    fit_seconds = round(time.perf_counter() - started, 3)
    version = _version()
    path = model.save(artifacts / f"tenant-{tid}" / "recommender" / version)
    save_vocab(path, data)  # lets the server line up data that grows after training
    chash = config_hash(config.ranking)
    stats = {"fit_seconds": fit_seconds, "customers": data.n_customers, "items": data.n_items,
             "events": len(data.events)}
    store.models.register(tid, RECOMMENDER_NAME, version, model.name, str(path), stats,
                          chash, activate=True)
    report.recommender_version = version
    report.seconds["recommender_fit"] = fit_seconds
    progress("recommender: fit", 1, 1)
    ranker = Ranker(model, data, config.ranking)
    if config.precompute:
        started = time.perf_counter()
        ids = [str(c) for c in data.customer_vocab.ids]
        rows: list[dict[str, Any]] = []
        step = max(1, len(ids) // 50)
        for start in range(0, len(ids), step):
            batch = ids[start:start + step]
            for cid, recs in ranker.recommend_for(batch).items():
                rows.append({"customer_id": cid, "model_version": version,
                             "config_hash": chash, "items": [r.to_dict() for r in recs]})
            progress("recommender: precompute", min(start + step, len(ids)), len(ids))
        report.recommendation_lists = store.recommendations.replace(tid, config.strategy, rows)
        report.seconds["recommender_precompute"] = round(time.perf_counter() - started, 3)
    return ranker


def train_needs(store: Store, tid: int, data: Dataset, artifacts: Path,
                report: TrainReport, progress: ProgressFn) -> None:
    """Train, publish and score every need the tenant defined; a need short of data is skipped."""
    needs = list_needs(store, tid)
    for i, need in enumerate(needs):
        progress("needs", i, len(needs))
        started = time.perf_counter()
        try:
            model = train_need(data, need)
        except InsufficientDataError as exc:
            log.warning("need %s skipped: %s", need.name, exc.message)
            report.needs[need.name] = {"skipped": exc.message}
            continue
        version, scored = publish(store, tid, model, data, artifacts)
        report.needs[need.name] = {"model_version": version, "customers_scored": scored,
                                   "algorithm": model.algorithm_}
        report.seconds[f"need_{need.name}"] = round(time.perf_counter() - started, 3)
    progress("needs", len(needs), len(needs))


def train_segments(store: Store, tid: int, data: Dataset, report: TrainReport,
                   progress: ProgressFn) -> None:
    """Store the RFM segments and the behavioural (k-means) segments of every customer."""
    started = time.perf_counter()
    progress("segments", 0, 2)
    rfm = rfm_table(data)
    report.segmentations["rfm"] = store.segments.replace(
        tid, "rfm", {str(k): str(v) for k, v in rfm["segment"].items()})
    progress("segments", 1, 2)
    seg = behavioural_segments(data)
    name = seg.profile.name
    report.segmentations[name] = store.segments.replace(
        tid, name, {str(k): str(v) for k, v in seg.assignment.items()})
    store.configs.put(tid, "segmentation", name, seg.profile.model_dump(mode="json"))
    report.seconds["segments"] = round(time.perf_counter() - started, 3)
    progress("segments", 2, 2)


def train_strategies(store: Store, tid: int, data: Dataset, report: TrainReport,
                     progress: ProgressFn) -> None:
    """Precompute every stored strategy's lists (after needs and segments, which rules read)."""
    from tailorcrm.customize.precompute import precompute_strategy

    started = time.perf_counter()
    names = sorted({c.name for c in store.configs.list(tid, "strategy")})
    for name in names:
        done = precompute_strategy(store, tid, name, data=data, progress=progress)
        report.strategies[name] = done.lists
    if names:
        report.seconds["strategies"] = round(time.perf_counter() - started, 3)


def train_tenant(store: Store, tid: int, artifacts: Path, config: TrainConfig | None = None,
                 progress: ProgressFn = no_progress,
                 on_ranker: Callable[[Ranker, str], None] | None = None) -> TrainReport:
    """Run every enabled step for tenant ``tid`` and return what was stored.

    ``on_ranker`` receives the fresh ranker and its model version as soon as the recommender
    is trained (a server installs it without reloading the artifact).
    """
    config = config or TrainConfig()
    started = time.perf_counter()
    data = store.load_dataset(tid)
    report = TrainReport(customers=data.n_customers, items=data.n_items, events=len(data.events))
    report.seconds["load"] = round(time.perf_counter() - started, 3)
    if config.recommend:
        ranker = train_recommender(store, tid, data, artifacts, config, report, progress)
        if on_ranker is not None and report.recommender_version is not None:
            on_ranker(ranker, report.recommender_version)
    if config.needs:
        train_needs(store, tid, data, artifacts, report, progress)
    if config.segments:
        train_segments(store, tid, data, report, progress)
    if config.strategies:
        train_strategies(store, tid, data, report, progress)
    report.seconds["total"] = round(time.perf_counter() - started, 3)
    log.info("trained tenant %d in %.1fs", tid, report.seconds["total"])
    return report
