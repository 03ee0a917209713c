"""``tailorcrm train --engine spark``: train, precompute and write back one tenant on Spark.

The steps of :func:`tailorcrm.jobs.train.train_tenant`, with the heavy ones on Spark: the
tenant is exported as Parquet (or read over JDBC), vocabularies and preference weights are
built on Spark, ALS (MLlib), the item cosine (MLlib) and popularity are fitted there, the
served model is assembled from their arrays and saved as an ordinary artifact, every
customer's list is made on the executors and streamed back into the results store, and the
version is activated last. Needs and segments are the single-node steps (see
``docs/scale-out.md`` for what runs where and why).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse

from tailorcrm.customize.pipeline import strategy_ranking
from tailorcrm.customize.precompute import pipeline_hash, rule_reads
from tailorcrm.customize.strategies import load_strategy, resolve_rules
from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.jobs.progress import ProgressFn, no_progress
from tailorcrm.jobs.train import RECOMMENDER_NAME, TrainConfig, TrainReport
from tailorcrm.privacy.retention import retain_before_training
from tailorcrm.recommend.ranking_config import save_ranking_config
from tailorcrm.schema.fields import pii_feature_policy
from tailorcrm.spark.assemble import SparkModelsConfig, TrainedArrays, assemble
from tailorcrm.spark.engine import SparkConfig, spark_session
from tailorcrm.spark.needs import SparkNeedsConfig
from tailorcrm.spark.precompute import (
    PrecomputeContext,
    collect_rows,
    rule_inputs_frame,
    spark_lists,
)
from tailorcrm.store import Store
from tailorcrm.store.bulk_results import BulkResults
from tailorcrm.store.model_store import save_vocab, scrub_vocab
from tailorcrm.store.parquet_export import export_tenant, from_export
from tailorcrm.store.tenant_settings import load_tenant_settings

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import DataFrame

    from tailorcrm.spark.tenant import SparkTenant

log = logging.getLogger(__name__)


class SparkTrainConfig(BaseModel):
    """Where the Spark run reads the tenant and what it trains."""

    model_config = ConfigDict(extra="forbid")

    spark: SparkConfig = Field(default_factory=SparkConfig)
    models: SparkModelsConfig = Field(default_factory=SparkModelsConfig)
    #: ``parquet``: export to ``export_dir`` (default: beside the artifacts) and read it;
    #: ``jdbc``: Spark reads PostgreSQL itself (needs the PostgreSQL JDBC driver jar).
    source: Literal["parquet", "jdbc"] = "parquet"
    export_dir: Path | None = None
    export_part_rows: int = Field(1_000_000, gt=0)
    keep_export: bool = False
    needs: SparkNeedsConfig = Field(default_factory=SparkNeedsConfig)
    #: the behavioural (k-means) segmentation is a single-node step that loads the tenant
    #: on the driver (docs/scale-out.md); switch it off where the tenant does not fit there
    behavioural_segments: bool = True


def _version() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _csr(prefs: DataFrame, shape: tuple[int, int]) -> sparse.csr_matrix:
    pdf = prefs.toPandas()
    return sparse.csr_matrix((pdf["weight"].to_numpy(np.float64),
                              (pdf["customer_idx"].to_numpy(np.int64),
                               pdf["item_idx"].to_numpy(np.int64))), shape=shape)


def read_tenant(store: Store, tid: int, config: SparkTrainConfig, artifacts: Path,
                version: str) -> tuple[SparkTenant, Path | None]:
    """The tenant on Spark, from a fresh Parquet export or over JDBC."""
    from tailorcrm.spark.tenant import read_export, read_jdbc

    spark = spark_session(config.spark)
    allowed = load_tenant_settings(store.configs, tid).pii_features_allowed
    fields = pii_feature_policy(store.fields.list(tid), allowed)
    event_types = store.event_types.list(tid)
    if config.source == "jdbc":
        from tailorcrm.store.jdbc_source import jdbc_sources

        return read_jdbc(spark, jdbc_sources(store.engine, tid), tuple(event_types),
                         tuple(fields)), None
    folder = (config.export_dir or artifacts / f"tenant-{tid}" / "spark-export") / version
    export_tenant(store.engine, tid, folder, list(fields), list(event_types),
                  part_rows=config.export_part_rows)
    return read_export(spark, folder), folder


def train_tenant_spark(store: Store, tid: int, artifacts: Path,
                       config: TrainConfig | None = None,
                       spark_config: SparkTrainConfig | None = None,
                       progress: ProgressFn = no_progress) -> TrainReport:
    """Run the training job of tenant ``tid`` with its recommender on Spark."""
    config = config or TrainConfig()
    scfg = spark_config or SparkTrainConfig()
    started = time.perf_counter()
    retain_before_training(store, tid)
    erased_after = store.tombstones.watermark(tid)
    version = _version()
    progress("spark: read", 0, 1)
    tenant, export = read_tenant(store, tid, scfg, artifacts, version)
    report = TrainReport(customers=tenant.n_customers, items=tenant.n_items,
                         events=int(tenant.events.count()))
    report.seconds["load"] = round(time.perf_counter() - started, 3)
    progress("spark: read", 1, 1)
    # needs and segments first: the precompute's rules may read them, as on one machine
    if config.needs:
        train_needs_spark(store, tid, tenant, artifacts, report, progress, erased_after,
                          scfg.needs)
    if config.segments:
        train_segments_spark(store, tid, tenant, report, progress, erased_after,
                             behavioural=scfg.behavioural_segments)
    path = None
    if config.recommend:
        t0 = time.perf_counter()
        path, trained, user_factors, segment_of = fit_on_spark(tenant, scfg.models,
                                                               artifacts, tid, version)
        report.seconds["recommender_fit"] = round(time.perf_counter() - t0, 3)
        strategy = load_strategy(store.configs, tid, config.strategy)
        rules = resolve_rules(strategy, store.configs, tid)
        ranking = strategy_ranking(strategy, config.ranking)
        save_ranking_config(path, config.ranking)
        chash = pipeline_hash(strategy, rules, ranking)
        stats = {"engine": "spark", "master": scfg.spark.master, "fit_seconds":
                 report.seconds["recommender_fit"], "customers": tenant.n_customers,
                 "items": tenant.n_items, "events": report.events,
                 "models": scfg.models.model_dump(mode="json")}
        store.models.register(tid, RECOMMENDER_NAME, version, "fallback", str(path), stats,
                              chash)
        report.recommender_choice = {"chosen": "spark: hybrid(als + itemknn) -> popularity",
                                     "engine": "spark"}
        if config.precompute:
            t0 = time.perf_counter()
            ctx = PrecomputeContext(
                trained=trained, items=from_export(tenant.items.toPandas(), [
                    f for f in tenant.fields if f.entity == "item"], "item_id"),
                item_vocab=tenant.item_vocab, fields=tenant.fields,
                event_types=tenant.event_types, strategy=strategy, rules=rules,
                ranking=config.ranking, model_version=version, config_hash=chash)
            reads = rule_reads(rules)
            extras = rule_inputs_frame(
                tenant.events.sparkSession,
                store.bulk.segments(tid) if "segments" in reads else {},
                store.bulk.need_scores(tid) if "needs" in reads else {}) if reads else None
            lists = spark_lists(tenant, ctx, user_factors, segment_of, extras)
            report.recommendation_lists = BulkResults(store.engine, store.tombstones) \
                .replace_lists(tid, config.strategy, collect_rows(lists, version, chash),
                               erased_after=erased_after)
            report.seconds["recommender_precompute"] = round(time.perf_counter() - t0, 3)
    if path is not None:
        erased = store.tombstones.erased_since(tid, erased_after)
        if erased:
            scrub_vocab(path, erased, store.tombstones.hasher(tid))
        store.models.activate(tid, RECOMMENDER_NAME, version)
        report.recommender_version = version
    if export is not None and not scfg.keep_export:
        shutil.rmtree(export, ignore_errors=True)
    report.seconds["total"] = round(time.perf_counter() - started, 3)
    log.info("trained tenant %d on Spark in %.1fs", tid, report.seconds["total"])
    return report


def fit_on_spark(tenant: SparkTenant, cfg: SparkModelsConfig, artifacts: Path, tid: int,
                 version: str) -> tuple[Path, TrainedArrays, DataFrame, DataFrame | None]:
    """Fit ALS, the item cosine and popularity on Spark; save the assembled artifact.

    Returns its folder, the item-side arrays, and the (customer_idx, factors) and
    (customer_idx, segment) frames the precompute joins per customer.
    """
    from tailorcrm.spark.als import fit_als
    from tailorcrm.spark.neighbours import item_similarities
    from tailorcrm.spark.popularity import fit_popularity
    from tailorcrm.spark.weights import preferences as prefs_of

    shape = (tenant.n_customers, tenant.n_items)
    weightings = {cfg.als.weighting, cfg.itemknn.weighting, cfg.popularity.weighting, "count"}
    prefs = {w: prefs_of(tenant, w).cache() for w in weightings}  # type: ignore[arg-type]
    als = fit_als(prefs[cfg.als.weighting], *shape, cfg.als)
    sim = item_similarities(prefs[cfg.itemknn.weighting], tenant.n_items, cfg.itemknn.k,
                            cfg.similarity_threshold)
    pop = fit_popularity(tenant, prefs[cfg.popularity.weighting],
                         cfg.popularity.segment_field, cfg.popularity.shrinkage)
    history: dict[str, sparse.csr_matrix] = {str(w): _csr(p, shape) for w, p in prefs.items()}
    cold = np.asarray(history[cfg.als.weighting].getnnz(axis=0)) == 0
    trained = TrainedArrays(cfg, als.item_factors, sim, pop.global_, pop.segment_scores,
                            pop.segment_names, cold)
    model = assemble(trained, als.user_factors, history, pop.segment_of)
    path = Path(model.save(artifacts / f"tenant-{tid}" / RECOMMENDER_NAME / version))
    save_vocab(path, Dataset(customers=pd.DataFrame(index=pd.Index([], dtype=object)),
                             items=pd.DataFrame(index=pd.Index([], dtype=object)),
                             customer_vocab=tenant.customer_vocab,
                             item_vocab=tenant.item_vocab))
    for p in prefs.values():
        p.unpersist()
    segments = None
    if pop.segment_names:
        has = np.flatnonzero(pop.segment_of >= 0)
        segments = tenant.events.sparkSession.createDataFrame(pd.DataFrame(
            {"customer_idx": has.astype(np.int64), "segment": pop.segment_of[has]}),
            "customer_idx long, segment long")
    return path, trained, als.user_frame, segments


def train_needs_spark(store: Store, tid: int, tenant: SparkTenant, artifacts: Path,
                      report: TrainReport, progress: ProgressFn, erased_after: int | None,
                      settings: SparkNeedsConfig) -> None:
    """Train, gate and publish every need of the tenant on Spark (``spark/needs.py``); a
    need short of data is skipped, as on one machine."""
    from tailorcrm.needs.definitions import list_needs
    from tailorcrm.spark.need_publish import train_and_publish_spark

    needs = list_needs(store, tid)
    for i, need in enumerate(needs):
        progress("needs", i, len(needs))
        started = time.perf_counter()
        try:
            outcome = train_and_publish_spark(store, tid, tenant, need, artifacts,
                                              settings=settings, erased_after=erased_after)
        except InsufficientDataError as exc:
            log.warning("need %s skipped: %s", need.name, exc.message)
            report.needs[need.name] = {"skipped": exc.message}
            continue
        report.needs[need.name] = {**outcome.model_dump(mode="json"), "engine": "spark"}
        report.seconds[f"need_{need.name}"] = round(time.perf_counter() - started, 3)
    progress("needs", len(needs), len(needs))


def train_segments_spark(store: Store, tid: int, tenant: SparkTenant, report: TrainReport,
                         progress: ProgressFn, erased_after: int | None, *,
                         behavioural: bool = True) -> None:
    """RFM segments on Spark (``spark/rfm.py``); the behavioural segmentation on one machine."""
    from tailorcrm.needs.rfm import SEGMENTATION
    from tailorcrm.spark.rfm import rfm_segments

    started = time.perf_counter()
    progress("segments", 0, 2)
    items = from_export(tenant.items.toPandas(), [f for f in tenant.fields
                                                  if f.entity == "item"], "item_id")
    rows = rfm_segments(tenant, items).toLocalIterator(prefetchPartitions=True)
    report.segmentations[SEGMENTATION] = store.segments.replace(
        tid, SEGMENTATION, {str(r["customer_id"]): str(r["segment"]) for r in rows},
        erased_after=erased_after)
    progress("segments", 1, 2)
    if behavioural:
        from tailorcrm.jobs.train import store_behavioural_segments

        store_behavioural_segments(store, tid, store.load_dataset(tid), report,
                                   erased_after)
    report.seconds["segments"] = round(time.perf_counter() - started, 3)
    progress("segments", 2, 2)
