"""The evaluate engine: split, fit each configured model, rank top-k without seen items, score."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import ConfigError
from tailorcrm.evaluation.memory import PeakMemory
from tailorcrm.evaluation.metrics import catalog_coverage, novelty, ranking_metrics
from tailorcrm.evaluation.splits import (
    leave_last_out,
    stratified_item,
    temporal_cutoff,
    temporal_per_customer,
)
from tailorcrm.recommend.base import Recommender
from tailorcrm.recommend.spec import ModelSpec

log = logging.getLogger(__name__)

SplitProtocol = Literal["stratified-item", "temporal", "leave-last-out", "cutoff"]
DEFAULT_MODEL = "default"


class Scorer(Protocol):
    """What the runner needs of a model: any Recommender, or a peer library's adapter."""

    def fit(self, data: Dataset) -> Any: ...

    def score_many(
        self, customer_idx: np.ndarray, item_idx: np.ndarray | None = None
    ) -> np.ndarray: ...


class EvaluationConfig(BaseModel):
    """What ``tailorcrm evaluate`` runs.

    ``truth="new_items"`` drops test pairs the customer already had in train (they are
    excluded from every list, so e.g. retail repurchases could never be hit);
    ``warm_only`` evaluates only customers with train events. ``recommend_for="all"``
    times (and makes) lists for every customer, as a batch job would; the metrics only ever
    read the evaluated customers' lists.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: SplitProtocol = "stratified-item"
    ratio: float = Field(0.75, gt=0, lt=1)
    seed: int = 42
    k: int = Field(10, gt=0)
    holdout_weeks: float = Field(8.0, gt=0)
    models: dict[str, ModelSpec] = Field(default_factory=dict)  # the default: include_default
    include_default: bool = True
    truth: Literal["all", "new_items"] = "all"
    warm_only: bool = False
    recommend_for: Literal["all", "evaluated"] = "all"
    batch_size: int = Field(1024, gt=0)


def split(events: pd.DataFrame, config: EvaluationConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test events of ``config.protocol``."""
    if config.protocol == "stratified-item":
        return stratified_item(events, ratio=config.ratio, seed=config.seed)
    if config.protocol == "temporal":
        return temporal_per_customer(events, ratio=config.ratio)
    if config.protocol == "leave-last-out":
        return leave_last_out(events)
    return temporal_cutoff(events, holdout=pd.Timedelta(weeks=config.holdout_weeks))


def build(spec: ModelSpec) -> Recommender:
    """A fresh model from the registry (the spec's config was validated when it was read)."""
    from tailorcrm.recommend.registry import build as build_spec

    return build_spec(spec)


def default_model() -> Recommender:
    """The default hybrid, from the recommend package's factory."""
    import tailorcrm.recommend as rec

    factory: Callable[[], Recommender] | None = getattr(rec, "default_recommender", None)
    if factory is None:
        raise ConfigError("tailorcrm.recommend.default_recommender is not available")
    return factory()


def default_choice(train: Dataset) -> tuple[Recommender, dict[str, Any]]:
    """What a tenant with this training part gets by default: the per-tenant model choice
    (:func:`tailorcrm.recommend.selection.select`) made on ``train`` only, and the choice's
    evidence for the result JSON (chosen model, validation scores, margin, seconds).

    The evaluation protocol excludes every training item from every list, so the choice
    is made under that policy: repeats excluded, and items met through any event type
    (ratings, views as well as purchases) left out of the validation lists.
    """
    from tailorcrm.recommend.ranking import RankingConfig
    from tailorcrm.recommend.selection import SelectionConfig, select

    seen_types = tuple(sorted(str(t) for t in train.events["type"].dropna().unique()))
    ranking = RankingConfig(bought_types=seen_types or ("purchase",))
    choice, model = select(train, SelectionConfig(repeats="exclude"), ranking)
    body = choice.model_dump(mode="json")
    keys = ("chosen", "personalized", "repeats", "chosen_ndcg", "popularity",
            "popularity_ndcg", "best_personalized", "margin_over_popularity", "z", "scores",
            "params", "skipped", "note", "seconds")
    out = {k: body[k] for k in keys}
    out["carve"] = body["carve"]
    out["excluded_event_types"] = list(ranking.bought_types)
    log.info("default: %s chosen on the training part", choice.chosen)
    return model, out


def top_k(
    model: Scorer,
    customers: np.ndarray,
    seen: sparse.csr_matrix,
    k: int,
    batch_size: int = 1024,
) -> np.ndarray:
    """``(len(customers), k)`` best item indices per customer, seen items excluded, -1 padded.

    Items the model cannot score (NaN) are never recommended; equal scores in a list are
    ordered by item index.
    """
    out = np.full((len(customers), k), -1, dtype=np.int64)
    for start in range(0, len(customers), batch_size):
        rows = customers[start:start + batch_size]
        scores = np.asarray(model.score_many(rows), dtype=np.float64)
        scores = np.where(np.isnan(scores), -np.inf, scores)
        block = seen[rows]
        scores[np.repeat(np.arange(len(rows)), np.diff(block.indptr)), block.indices] = -np.inf
        kk = min(k, scores.shape[1])
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.lexsort((part, -part_scores), axis=1)
        best = np.take_along_axis(part, order, axis=1)
        best_scores = np.take_along_axis(part_scores, order, axis=1)
        out[start:start + len(rows), :kk] = np.where(np.isfinite(best_scores), best, -1)
    return out


def evaluate_model(
    model: Scorer, train: Dataset, test: Dataset, config: EvaluationConfig
) -> dict[str, float]:
    """Fit ``model`` on ``train``, recommend for the test customers, score the lists."""
    k = config.k
    seen = train.interaction_matrix(weighting="count")
    relevant = test.interaction_matrix(weighting="binary")
    if config.truth == "new_items":
        relevant = relevant - relevant.multiply(seen > 0)
        relevant.eliminate_zeros()
    customers = np.flatnonzero(np.diff(relevant.indptr) > 0)
    if config.warm_only:
        customers = customers[np.diff(seen.indptr)[customers] > 0]
    targets = np.arange(train.n_customers) if config.recommend_for == "all" else customers
    with PeakMemory() as memory:
        started, cpu_started = time.perf_counter(), time.process_time()
        model.fit(train)
        trained, cpu_trained = time.perf_counter(), time.process_time()
        made = top_k(model, targets, seen, k, config.batch_size)
        done, cpu_done = time.perf_counter(), time.process_time()
    full = np.full((train.n_customers, k), -1, dtype=np.int64)
    full[targets] = made
    lists = full[customers]
    keep = np.zeros(train.n_customers, dtype=bool)
    keep[customers] = True
    scored = ranking_metrics(full, sparse.diags(keep.astype(np.float64)) @ relevant, k)
    binary_train = train.interaction_matrix(weighting="binary")
    return {
        f"ndcg@{k}": scored["ndcg"],
        f"precision@{k}": scored["precision"],
        f"recall@{k}": scored["recall"],
        "map": scored["map"],
        "coverage": catalog_coverage(lists, binary_train),
        "novelty": novelty(lists, binary_train),
        "train_seconds": trained - started,
        "recommend_seconds": done - trained,
        # CPU seconds of the whole process (all threads): a check on wall times taken
        # while other work shares the machine.
        "train_cpu_seconds": cpu_trained - cpu_started,
        "recommend_cpu_seconds": cpu_done - cpu_trained,
        "peak_memory_mb": memory.peak_mb,
        "n_customers": scored["n_users"],
        "n_recommended": float(len(targets)),
    }


def events_digest(events: pd.DataFrame) -> str:
    """SHA-256 of the sorted ``customer_id, item_id, ts`` of some events: two splits that hold
    the same rows give the same digest, whatever their order or index."""
    ts = pd.to_datetime(events["ts"], utc=True).astype("int64").tolist() \
        if "ts" in events and len(events) else [""] * len(events)
    keys = [f"{c}\x1f{i}\x1f{t}" for c, i, t in zip(events["customer_id"].tolist(),
                                                     events["item_id"].tolist(), ts,
                                                     strict=True)]
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def evaluate(
    events: pd.DataFrame | Dataset,
    config: EvaluationConfig,
    *,
    dataset: str = "",
    models: Mapping[str, Scorer] | None = None,
) -> dict[str, Any]:
    """Run ``config`` on events (or a Dataset); the JSON document ``tailorcrm evaluate`` writes.

    ``models`` (already built, unfitted) are evaluated in addition to ``config.models``
    and, when ``config.include_default`` is set, what a tenant gets by default under
    ``"default"``: the per-tenant model choice made on the training part only
    (:func:`default_choice`), its evidence under ``"default_choice"``.
    """
    data = events if isinstance(events, Dataset) else Dataset.from_events(events)
    train_events, test_events = split(data.events, config)
    train, test = data.with_events(train_events), data.with_events(test_events)
    log.info("%s split: %d train / %d test events", config.protocol, len(train_events),
             len(test_events))
    todo: dict[str, Scorer] = {name: build(spec) for name, spec in config.models.items()}
    todo.update(models or {})
    choice: dict[str, Any] | None = None
    if config.include_default and DEFAULT_MODEL not in todo:
        todo[DEFAULT_MODEL], choice = default_choice(train)
    results: dict[str, dict[str, float]] = {}
    for name, model in todo.items():
        log.info("evaluating %s", name)
        results[name] = evaluate_model(model, train, test, config)
    extra = {} if choice is None else {"default_choice": choice}
    return {
        **extra,
        "dataset": dataset,
        "protocol": config.protocol,
        "k": config.k,
        "ratio": config.ratio,
        "seed": config.seed,
        "n_train_events": len(train_events),
        "n_test_events": len(test_events),
        "test_events_sha256": events_digest(test_events),
        "models": results,
    }
