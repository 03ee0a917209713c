"""The offline training job of one tenant: recommendations, needs and segments, stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.customize.pipeline import Pipeline
from tailorcrm.customize.precompute import (
    pipeline_hash,
    precompute_lists,
    precompute_strategy,
    rule_inputs,
)
from tailorcrm.customize.strategies import DEFAULT_STRATEGY, load_strategy, resolve_rules
from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.jobs.progress import ProgressFn, no_progress
from tailorcrm.needs.definitions import list_needs
from tailorcrm.needs.publishing import train_and_publish
from tailorcrm.needs.rfm import rfm_table
from tailorcrm.needs.segments import behavioural_segments
from tailorcrm.privacy.retention import retain_before_training
from tailorcrm.recommend.ranking import Ranker, RankingConfig, save_ranking_config
from tailorcrm.recommend.selection import (
    Selection,
    SelectionConfig,
    load_selection_config,
    select,
    served_ranking,
)
from tailorcrm.store import Store
from tailorcrm.store.model_store import save_vocab, scrub_vocab

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
    strategy: str = DEFAULT_STRATEGY
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    #: How the recommender is chosen; None: the tenant's ``recommender``/``selection``
    #: config document, else the defaults (see :mod:`tailorcrm.recommend.selection`).
    selection: SelectionConfig | None = None


class TrainReport(BaseModel):
    """What one run trained and stored, with the seconds each step took.

    ``customers``, ``items`` and ``events`` count the data read; they are 0 when every step
    was switched off (nothing is read then).
    """

    model_config = ConfigDict(extra="forbid")

    customers: int = 0
    items: int = 0
    events: int = 0
    recommender_version: str | None = None
    recommender_choice: dict[str, Any] = Field(default_factory=dict)
    recommendation_lists: int = 0
    needs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    segmentations: dict[str, int] = Field(default_factory=dict)
    strategies: dict[str, int] = Field(default_factory=dict)
    seconds: dict[str, float] = Field(default_factory=dict)


@dataclass
class Candidate:
    """A fitted, saved, registered but not yet active recommender, with its lists in memory."""

    version: str
    path: Path
    pipeline: Pipeline
    config_hash: str
    rows: list[dict[str, Any]] | None

    @property
    def ranker(self) -> Ranker:
        """The ranker of the tenant's default strategy over the fitted model."""
        return self.pipeline.ranker


def config_hash(config: BaseModel) -> str:
    """A short stable hash of a config: precomputed lists carry it and go stale with it."""
    body = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _version() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def fit_recommender(store: Store, tid: int, data: Dataset, artifacts: Path,
                    config: TrainConfig, report: TrainReport,
                    progress: ProgressFn) -> Candidate:
    """Choose the tenant's recommender on a validation carve of its own events
    (:func:`tailorcrm.recommend.selection.select`), refit the winner on all data, save and
    register it (inactive) with the choice in its stats, and compute every list.

    Nothing serves from it until :func:`commit_recommender`: a run that fails or is
    cancelled later leaves the active version and its lists as they were.
    """
    progress("recommender: select", 0, 1)
    choice, model = select(data, config.selection or load_selection_config(store.configs, tid),
                           config.ranking)
    report.seconds["recommender_select"] = choice.seconds
    progress("recommender: select", 1, 1)
    ranking = served_ranking(choice, config.ranking)
    started = time.perf_counter()
    progress("recommender: fit", 0, 1)
    model.fit(data)  # the winner, refitted on all the data
    fit_seconds = round(time.perf_counter() - started, 3)
    version = _version()
    path = Path(model.save(artifacts / f"tenant-{tid}" / "recommender" / version))
    save_vocab(path, data)  # lets the server line up data that grows after training
    save_ranking_config(path, ranking)  # the repeat policy and label it was chosen with
    # the default list is the tenant's "default" strategy (shipped, or the tenant's own
    # override with rules and diversity) through the one pipeline every strategy uses; the
    # registry records its hash: the lists this run makes carry it
    strategy = load_strategy(store.configs, tid, config.strategy)
    rules = resolve_rules(strategy, store.configs, tid)
    pipeline = Pipeline.build(strategy, model, data, rules=rules, chosen=ranking)
    chash = pipeline_hash(strategy, rules, pipeline.ranker.config)
    stats = {"fit_seconds": fit_seconds, "customers": data.n_customers, "items": data.n_items,
             "events": len(data.events), "selection": choice.model_dump(mode="json")}
    store.models.register(tid, RECOMMENDER_NAME, version, model.name, str(path), stats, chash)
    report.recommender_choice = summary(choice)
    report.seconds["recommender_fit"] = fit_seconds
    progress("recommender: fit", 1, 1)
    rows: list[dict[str, Any]] | None = None
    if config.precompute:
        started = time.perf_counter()
        rows, _ = precompute_lists(
            pipeline, [str(c) for c in data.customer_vocab.ids], model_version=version,
            config_hash=chash, extra_of=rule_inputs(store, tid, rules), progress=progress,
            label="recommender: precompute")
        report.seconds["recommender_precompute"] = round(time.perf_counter() - started, 3)
    return Candidate(version, path, pipeline, chash, rows)


def summary(choice: Selection) -> dict[str, Any]:
    """The part of a model choice the train report shows."""
    keys = ("chosen", "personalized", "repeats", "chosen_ndcg", "popularity",
            "popularity_ndcg", "margin_over_popularity", "z", "scores", "note")
    body = choice.model_dump(mode="json")
    return {k: body[k] for k in keys} | {"validation_customers": body["carve"].get(
        "validation_customers"), "carve": body["carve"].get("kind")}


def commit_recommender(store: Store, tid: int, candidate: Candidate, config: TrainConfig,
                       report: TrainReport, erased_after: int) -> None:
    """Store the candidate's lists, drop customers erased during the run from its vocabulary
    file, and activate it (the last write of a run)."""
    if candidate.rows is not None:
        report.recommendation_lists = store.recommendations.replace(
            tid, config.strategy, candidate.rows, erased_after=erased_after)
    erased = store.tombstones.erased_since(tid, erased_after)
    if erased:
        scrub_vocab(candidate.path, erased, store.tombstones.hasher(tid))
    store.models.activate(tid, RECOMMENDER_NAME, candidate.version)
    report.recommender_version = candidate.version


def train_needs(store: Store, tid: int, data: Dataset, artifacts: Path,
                report: TrainReport, progress: ProgressFn,
                erased_after: int | None = None) -> None:
    """Train, publish and score every need the tenant defined; a need short of data is skipped.

    ``erased_after``: the tombstone watermark taken before ``data`` was read.
    """
    needs = list_needs(store, tid)
    for i, need in enumerate(needs):
        progress("needs", i, len(needs))
        started = time.perf_counter()
        try:  # published only if it beats its baseline held out (needs/publishing.py)
            outcome = train_and_publish(store, tid, need, data, artifacts,
                                        erased_after=erased_after)
        except InsufficientDataError as exc:
            log.warning("need %s skipped: %s", need.name, exc.message)
            report.needs[need.name] = {"skipped": exc.message}
            continue
        report.needs[need.name] = outcome.model_dump(mode="json")
        report.seconds[f"need_{need.name}"] = round(time.perf_counter() - started, 3)
    progress("needs", len(needs), len(needs))


def train_segments(store: Store, tid: int, data: Dataset, report: TrainReport,
                   progress: ProgressFn, erased_after: int | None = None) -> None:
    """Store the RFM segments and the behavioural (k-means) segments of every customer."""
    started = time.perf_counter()
    progress("segments", 0, 2)
    rfm = rfm_table(data)
    report.segmentations["rfm"] = store.segments.replace(
        tid, "rfm", {str(k): str(v) for k, v in rfm["segment"].items()},
        erased_after=erased_after)
    progress("segments", 1, 2)
    store_behavioural_segments(store, tid, data, report, erased_after)
    report.seconds["segments"] = round(time.perf_counter() - started, 3)
    progress("segments", 2, 2)


def store_behavioural_segments(store: Store, tid: int, data: Dataset, report: TrainReport,
                               erased_after: int | None = None) -> None:
    """Store the behavioural (k-means) segment of every customer and the profile."""
    seg = behavioural_segments(data)
    name = seg.profile.name
    report.segmentations[name] = store.segments.replace(
        tid, name, {str(k): str(v) for k, v in seg.assignment.items()},
        erased_after=erased_after)
    store.configs.put(tid, "segmentation", name, seg.profile.model_dump(mode="json"))


def train_strategies(store: Store, tid: int, data: Dataset, report: TrainReport,
                     progress: ProgressFn, erased_after: int | None = None,
                     artifacts: Path | None = None, candidate: Candidate | None = None) -> None:
    """Precompute every stored strategy's lists (after needs and segments, which rules read).

    The ``default`` strategy's lists are the recommender's (made by :func:`fit_recommender`);
    strategies on the tenant's model rank with the run's ``candidate``.
    """
    started = time.perf_counter()
    names = sorted({c.name for c in store.configs.list(tid, "strategy")} - {DEFAULT_STRATEGY})
    for name in names:
        done = precompute_strategy(
            store, tid, name, data=data, progress=progress, erased_after=erased_after,
            artifacts=artifacts, tenant_pipeline=candidate.pipeline if candidate else None,
            tenant_version=candidate.version if candidate else None)
        report.strategies[name] = done.lists
    if names:
        report.seconds["strategies"] = round(time.perf_counter() - started, 3)


def train_tenant(store: Store, tid: int, artifacts: Path, config: TrainConfig | None = None,
                 progress: ProgressFn = no_progress,
                 on_ranker: Callable[[Ranker, str], None] | None = None) -> TrainReport:
    """Run every enabled step for tenant ``tid`` and return what was stored.

    The recommender is fitted and its lists computed first, but it is activated last, after
    needs, segments and strategies: a run that fails or is cancelled (``progress`` may raise
    to stop it) leaves the active recommender and its lists untouched. Every write leaves out
    customers erased while the run worked (their tombstones are newer than the run's read).
    ``on_ranker`` receives the fresh ranker and its version once it is active (a server
    installs it without reloading the artifact). With every step off, nothing is read.
    """
    config = config or TrainConfig()
    started = time.perf_counter()
    if not (config.recommend or config.needs or config.segments or config.strategies):
        log.info("tenant %d: every training step is off; nothing to do", tid)
        return TrainReport(seconds={"total": 0.0})
    retain_before_training(store, tid)  # events past the tenant's retention_days go first
    erased_after = store.tombstones.watermark(tid)  # before reading: see store/tombstones.py
    data = store.load_dataset(tid)
    report = TrainReport(customers=data.n_customers, items=data.n_items, events=len(data.events))
    report.seconds["load"] = round(time.perf_counter() - started, 3)
    candidate = None
    if config.recommend:
        candidate = fit_recommender(store, tid, data, artifacts, config, report, progress)
    if config.needs:
        train_needs(store, tid, data, artifacts, report, progress, erased_after)
    if config.segments:
        train_segments(store, tid, data, report, progress, erased_after)
    if config.strategies:
        train_strategies(store, tid, data, report, progress, erased_after, artifacts,
                         candidate)
    if candidate is not None:
        commit_recommender(store, tid, candidate, config, report, erased_after)
        if on_ranker is not None:
            try:
                on_ranker(candidate.ranker, candidate.version)
            except Exception:  # active already: a server loads it from the registry instead
                log.exception("tenant %d: installing model %s failed", tid, candidate.version)
    report.seconds["total"] = round(time.perf_counter() - started, 3)
    log.info("trained tenant %d in %.1fs", tid, report.seconds["total"])
    return report
