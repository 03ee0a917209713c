"""Need models on Spark: the same schema-aware features, MLlib logistic regression, the same gate.

A need trains in four passes over the tenant's customer buckets (see
:mod:`tailorcrm.spark.buckets`), each running the single-node code on the executors:

1. **labels and a sample**: every bucket labels its customers (the need's own ``labels``,
   with the tenant-wide end of data fixed beforehand as the need's ``as_of``) and returns
   its label counts and the raw feature frame of a hashed sample of them (every customer
   when the tenant has at most ``sample_customers``);
2. on the driver, the feature transformer (imputation, scaling, category levels, spline
   ranges) and one baseline per fold are fitted on that sample: the transformer's
   statistics need a sample, not every row;
3. **rows**: every labelled customer's encoded, spline-expanded row, its fold (a hash of its
   id) and its fold baseline's prediction; MLlib fits ``folds`` + 1 models on them
   (``LogisticRegression`` for yes/no needs, ``LinearRegression`` for amounts), with
   scikit-learn's objective: ``regParam = 1 / (C · n)``, no standardisation, an
   unpenalised intercept (sklearn minimises ``½‖w‖² + C Σ loss``, MLlib
   ``mean loss + regParam/2 ‖w‖²``);
4. **scores**: the assembled single-node :class:`~tailorcrm.needs.model.NeedModel`
   (coefficients from MLlib) scores every customer with reasons on the executors, and
   :func:`~tailorcrm.needs.publishing.gate_and_publish` stores the model's or the baseline's
   scores, exactly as one machine publishes.

Differences from the single-node path, stated in the model's stats: the learner is always
the (spline) logistic regression (MLlib has no LightGBM; ``algorithm="auto"`` becomes
``"logistic"``); the held-out test is ``folds``-fold cross-validation over customers
(folds by id hash) at the latest cut-off, also for derived needs (one machine uses a
time-aware split there); fields the tenant did not declare are not read.
"""

from __future__ import annotations

import io
import json
import logging
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import brier_score_loss, mean_squared_error, roc_auc_score

from tailorcrm.errors import InsufficientDataError
from tailorcrm.needs.baseline import Baseline
from tailorcrm.needs.behaviour import top_categories_of
from tailorcrm.needs.cutoffs import data_end_daily
from tailorcrm.needs.definitions import AnyNeed, LabelNeed
from tailorcrm.needs.features import FeatureBuilder, feature_specs
from tailorcrm.needs.grading import binary_metrics, grade, regression_metrics
from tailorcrm.needs.model import Calibrator, ModelConfig, NeedModel, numeric_inputs
from tailorcrm.needs.scorers import LinearScorer
from tailorcrm.needs.scoring import restore_lists
from tailorcrm.needs.training import Evaluation
from tailorcrm.spark.buckets import (
    PEOPLE_COLUMNS,
    TenantTimes,
    bucket_dataset,
    run_buckets,
    tenant_times,
)
from tailorcrm.store.parquet_export import from_export

if TYPE_CHECKING:  # pragma: no cover - types only

    from pyspark.sql import DataFrame

    from tailorcrm.data.dataset import Dataset
    from tailorcrm.spark.tenant import SparkTenant

log = logging.getLogger(__name__)

ROWS_PER_PARTITION = 250_000  # encoded rows per partition of the MLlib fits
SAMPLE_SCHEMA = "n long, positives double, payload binary"
ROW_SCHEMA = "customer_id string, label double, fold int, base double, z array<double>"
SCORE_SCHEMA = "customer_id string, score double, model_version string, reasons string"
LABEL, FOLD = "__label__", "__fold__"


class SparkNeedsConfig(BaseModel):
    """How need models train on Spark."""

    model_config = ConfigDict(extra="forbid")

    folds: int = Field(3, ge=2)
    """Cross-validation folds (by customer id hash) for the held-out test and calibration
    (3, not one machine's 5: each fold is a whole MLlib fit)."""
    sample_customers: int = Field(100_000, ge=100)
    """Customers the feature transformer and the baselines are fitted on (all when fewer)."""
    parallelism: int = Field(4, ge=1)
    """MLlib fits run at once (the folds' and the final one's)."""
    max_iter: int = Field(100, ge=10)
    tol: float = Field(1e-6, gt=0)
    """MLlib's defaults; on Telco the AUC is the same as at 1e-8 and 200 iterations."""


def _hash01(customer_id: str, salt: bytes) -> float:
    return zlib.crc32(salt + customer_id.encode()) / 2**32


def fold_of(customer_id: str, folds: int) -> int:
    """The customer's cross-validation fold: a hash of its id, the same on every executor."""
    return zlib.crc32(customer_id.encode()) % folds


@dataclass
class NeedTask:
    """What every executor task needs besides its bucket (broadcast)."""

    need: AnyNeed
    probe: NeedModel
    items: pd.DataFrame
    item_vocab: Any
    fields: tuple[Any, ...]
    event_types: tuple[Any, ...]
    anchors: tuple[pd.Timestamp, pd.Timestamp] | None
    folds: int
    sample_fraction: float = 1.0
    builder: FeatureBuilder | None = None
    scorer: LinearScorer | None = None
    fold_baselines: list[Baseline] = field(default_factory=list)

    def dataset(self, events: pd.DataFrame, customers: pd.DataFrame) -> Dataset:
        return bucket_dataset(customers[PEOPLE_COLUMNS], events, items=self.items,
                              item_vocab=self.item_vocab, fields=self.fields,
                              event_types=self.event_types, anchors=self.anchors)

    def labelled(self, data: Dataset) -> tuple[pd.DataFrame, pd.Series]:
        """The bucket's labels and raw features (at the need's cut-off)."""
        need = self.need
        y = need.labels(data, None, check=False)
        y = y[y.index.isin(data.customers.index)]  # never the anchor
        when = None if isinstance(need, LabelNeed) else need.window(data, None)[0]
        return self.probe.frame(data, pd.Index(y.index.astype(str)), when), y


def sample_part(task: NeedTask, events: pd.DataFrame, customers: pd.DataFrame
                ) -> pd.DataFrame:
    """Pass 1 on one bucket: label counts and the sampled customers' frame (Parquet bytes)."""
    if customers.empty:
        return pd.DataFrame({"n": [0], "positives": [0.0], "payload": [b""]})
    frame, y = task.labelled(task.dataset(events, customers))
    keep = np.array([_hash01(str(c), b"sample:") < task.sample_fraction for c in frame.index],
                    dtype=bool)
    part = frame[keep].copy()
    part[LABEL] = y.to_numpy(dtype=np.float64)[keep]
    part[FOLD] = [fold_of(str(c), task.folds) for c in part.index]
    buf = io.BytesIO()
    part.to_parquet(buf)
    return pd.DataFrame({"n": [len(y)], "positives": [float(y.sum())],
                         "payload": [buf.getvalue()]})


def row_part(task: NeedTask, events: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Pass 3 on one bucket: every labelled customer's expanded row and fold baseline."""
    empty = pd.DataFrame({"customer_id": pd.Series(dtype=str), "label": pd.Series(dtype=float),
                          "fold": pd.Series(dtype="int32"), "base": pd.Series(dtype=float),
                          "z": pd.Series(dtype=object)})
    if customers.empty:
        return empty
    frame, y = task.labelled(task.dataset(events, customers))
    if frame.empty:
        return empty
    assert task.builder is not None and task.scorer is not None
    X = task.builder.transform(frame)
    Z = task.scorer._expand(X)
    folds = np.array([fold_of(str(c), task.folds) for c in frame.index], dtype=np.int32)
    base = np.zeros(len(frame))
    for f, baseline in enumerate(task.fold_baselines):
        at = folds == f
        if at.any():
            base[at] = baseline.predict(frame[at], X[at])
    return pd.DataFrame({"customer_id": frame.index.astype(str),
                         "label": y.to_numpy(dtype=np.float64), "fold": folds, "base": base,
                         "z": list(Z)})


RowMaker = Callable[["Dataset"], list[dict[str, Any]]]


def score_part(make: RowMaker, task: NeedTask, events: pd.DataFrame, customers: pd.DataFrame
               ) -> pd.DataFrame:
    """Pass 4 on one bucket: the store rows ``make`` gives for the bucket's customers."""
    if customers.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype=str),
                             "score": pd.Series(dtype=float),
                             "model_version": pd.Series(dtype=str),
                             "reasons": pd.Series(dtype=str)})
    rows = make(task.dataset(events, customers))
    return pd.DataFrame({"customer_id": [str(r["customer_id"]) for r in rows],
                         "score": [float(r["score"]) for r in rows],
                         "model_version": [str(r["model_version"]) for r in rows],
                         "reasons": [json.dumps(r["reasons"], default=str) for r in rows]})


# -- driver side ------------------------------------------------------------------------
def _schema_only(tenant: SparkTenant, items: pd.DataFrame) -> Dataset:
    """A Dataset with the tenant's schema and items, and no customers or events."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in PEOPLE_COLUMNS})
    return bucket_dataset(empty, pd.DataFrame(), items=items, item_vocab=tenant.item_vocab,
                          fields=tenant.fields, event_types=tenant.event_types)


def _probe(tenant: SparkTenant, need: AnyNeed, config: ModelConfig, schema: Dataset,
           cutoff: pd.Timestamp | None, times: TenantTimes) -> NeedModel:
    """A model whose feature specs and behaviour categories are fixed for every bucket."""
    from pyspark.sql import functions as sf

    probe = NeedModel(need, config)
    probe.specs_ = feature_specs(schema, probe.feature_config())
    behaviour = probe.feature_config().behaviour
    if behaviour is not None and times.last is not None:
        ref = cutoff if cutoff is not None else times.last + pd.Timedelta(microseconds=1)
        bought = tenant.events.where(sf.col("type").isin(list(behaviour.purchase_types))
                                     & (sf.unix_micros(sf.col("ts")) < int(ref.value // 1000))
                                     & sf.col("item_id").isNotNull())
        per_item = bought.groupBy("item_id").count().toPandas()
        items = schema.items
        cats = items["categories"] if "categories" in items.columns else pd.Series(dtype=object)
        probe.categories_ = top_categories_of(
            cats, pd.Series(per_item["count"].to_numpy(), index=per_item["item_id"]),
            behaviour.top_categories)
    return probe


def _fix_end(need: AnyNeed, times: TenantTimes) -> AnyNeed:
    """A derived need with the tenant-wide end of data as its ``as_of`` (buckets agree)."""
    if isinstance(need, LabelNeed) or need.as_of is not None:
        return need
    if times.last is None:
        raise InsufficientDataError(f"need {need.name!r}: there are no events", need=need.name)
    end = data_end_daily(times.counts, times.last_by_day, need.horizon_days)
    return need.model_copy(update={"as_of": end.to_pydatetime()})


def _check_counts(need: AnyNeed, n: int, positives: float) -> None:
    if need.task != "binary":
        if n < 2 * need.min_positives:
            raise InsufficientDataError(
                f"need {need.name!r} has {n} customers; at least {2 * need.min_positives} "
                "are needed", need=need.name, customers=n)
        return
    pos, neg = int(positives), int(n - positives)
    if pos < need.min_positives or neg < need.min_positives:
        raise InsufficientDataError(
            f"need {need.name!r} has {pos} positives and {neg} negatives; at least "
            f"{need.min_positives} of each are needed", need=need.name, positives=pos,
            negatives=neg, required=need.min_positives)


def _mllib_fit(rows: DataFrame, binary: bool, config: ModelConfig,
               settings: SparkNeedsConfig) -> Any:
    """One MLlib fit with scikit-learn's objective (see the module docstring)."""
    n = rows.count()
    reg = 1.0 / (config.logistic.C * max(n, 1))
    if binary:
        from pyspark.ml.classification import LogisticRegression

        est: Any = LogisticRegression(featuresCol="features", labelCol="label", regParam=reg,
                                      elasticNetParam=0.0, standardization=False,
                                      fitIntercept=True, maxIter=settings.max_iter,
                                      tol=settings.tol, family="binomial")
    else:
        from pyspark.ml.regression import LinearRegression

        est = LinearRegression(featuresCol="features", labelCol="label", regParam=reg,
                               elasticNetParam=0.0, standardization=False, fitIntercept=True,
                               maxIter=settings.max_iter, tol=settings.tol, solver="l-bfgs")
    fitted = est.fit(rows)
    log.debug("MLlib fit: %d rows, %d iterations", n, fitted.summary.totalIterations)
    return fitted


def _raw(fitted: Any, rows: DataFrame, binary: bool) -> DataFrame:
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as sf

    out = fitted.transform(rows)
    raw = vector_to_array(sf.col("rawPrediction"))[1] if binary else sf.col("prediction")
    return out.select("customer_id", "label", "fold", "base", raw.alias("raw"))


@dataclass
class SparkNeedFit:
    """A need trained on Spark: the assembled model, its held-out evaluation and the task."""

    model: NeedModel
    evaluation: Evaluation
    task: NeedTask
    seconds: dict[str, float] = field(default_factory=dict)


def fit_need_spark(tenant: SparkTenant, need: AnyNeed, config: ModelConfig | None = None,
                   settings: SparkNeedsConfig | None = None) -> SparkNeedFit:
    """Train ``need`` on Spark (passes 1-3 of the module docstring)."""
    from pyspark.ml.functions import array_to_vector
    from pyspark.ml.stat import Summarizer
    from pyspark.sql import functions as sf

    settings = settings or SparkNeedsConfig()
    cfg = (config or ModelConfig()).model_copy(update={"algorithm": "logistic"})
    binary = need.task == "binary"
    started = time.perf_counter()
    spark = tenant.events.sparkSession
    times = tenant_times(tenant)
    fixed = _fix_end(need, times)
    items = from_export(tenant.items.toPandas(),
                        [f for f in tenant.fields if f.entity == "item"], "item_id")
    schema = _schema_only(tenant, items)
    cut = None if isinstance(fixed, LabelNeed) else fixed.default_cutoff(schema)
    probe = _probe(tenant, fixed, cfg, schema, cut, times)
    anchors = None if times.first is None or times.last is None else (times.first, times.last)
    task = NeedTask(fixed, probe, items, tenant.item_vocab, tenant.fields, tenant.event_types,
                    anchors, settings.folds,
                    min(1.0, settings.sample_customers / max(tenant.n_customers, 1)))
    # pass 1: labels and the sample
    parts = run_buckets(tenant, spark.sparkContext.broadcast(task), sample_part,
                     SAMPLE_SCHEMA).collect()
    n = sum(int(p["n"]) for p in parts)
    _check_counts(need, n, sum(float(p["positives"]) for p in parts))
    sample = pd.concat([restore_lists(pd.read_parquet(io.BytesIO(p["payload"])))
                        for p in parts if p["payload"]])
    y_sample = sample.pop(LABEL).to_numpy(np.float64)
    f_sample = sample.pop(FOLD).to_numpy(np.int64)
    # pass 2: transformer, spline ranges and fold baselines from the sample
    builder = FeatureBuilder(probe.specs_ or [], probe.feature_config()).fit(sample)
    X = builder.transform(sample)
    scorer = LinearScorer(cfg.logistic, "binary" if binary else "regression",
                          random_state=cfg.random_state)
    scorer.prepare(X, numeric_inputs(builder))  # spline ranges and column groups
    task.builder, task.scorer = builder, scorer
    for f in range(settings.folds):
        tr = f_sample != f
        task.fold_baselines.append(Baseline(need).fit(sample[tr], X[tr], builder.sources_,
                                                      y_sample[tr]))
    # pass 3: every labelled customer's row; folds + 1 MLlib fits
    t_rows = time.perf_counter()
    rows = run_buckets(tenant, spark.sparkContext.broadcast(task), row_part, ROW_SCHEMA) \
        .withColumn("features", array_to_vector(sf.col("z"))).drop("z")
    # every L-BFGS iteration is one Spark job over the rows: no more partitions than the
    # rows fill (a job per tiny partition is what costs on small tenants)
    wanted = max(1, -(-n // ROWS_PER_PARTITION))
    if rows.rdd.getNumPartitions() > wanted:
        rows = rows.coalesce(wanted)
    rows = rows.cache()
    rows.count()
    seconds = {"labels_and_sample": round(t_rows - started, 3),
               "rows": round(time.perf_counter() - t_rows, 3)}
    t0 = time.perf_counter()

    def fold(f: int) -> pd.DataFrame:
        fitted = _mllib_fit(rows.where(sf.col("fold") != f), binary, cfg, settings)
        return _raw(fitted, rows.where(sf.col("fold") == f), binary).toPandas()

    # the fold fits run as concurrent Spark jobs, as MLlib's CrossValidator(parallelism=)
    # does: each L-BFGS step is a small job, so overlapping them fills the executors
    with ThreadPoolExecutor(max_workers=settings.parallelism) as pool:
        final_fit = pool.submit(_mllib_fit, rows, binary, cfg, settings)
        oof = pd.concat(list(pool.map(fold, range(settings.folds))), ignore_index=True)
        final = final_fit.result()
    fit_seconds = time.perf_counter() - t0
    mean_row = rows.select(Summarizer.mean(sf.col("features")).alias("m")).first()
    assert mean_row is not None
    rows.unpersist()
    scorer.coef_ = final.coefficients.toArray().astype(np.float64)
    scorer.intercept_ = float(final.intercept)
    scorer.z_mean_ = mean_row["m"].toArray().astype(np.float64)
    # evaluation: cross-fitted calibration of the out-of-fold raw scores
    y, raw = oof["label"].to_numpy(np.float64), oof["raw"].to_numpy(np.float64)
    folds, base = oof["fold"].to_numpy(np.int64), oof["base"].to_numpy(np.float64)
    method = cfg.calibration if binary else "none"
    p = raw.copy()
    if binary:
        for f in range(settings.folds):
            at = folds == f
            p[at] = Calibrator(method).fit(raw[~at], y[~at])(raw[at]) if method != "none" \
                else Calibrator("none")(raw[at])
    metric = binary_metrics if binary else regression_metrics
    m, b = metric(y, p), metric(y, base)
    at_cut = "" if cut is None else f" at the cut-off {cut.date()}"
    evaluation = Evaluation(
        protocol=f"{settings.folds}-fold CV by customer id hash on Spark{at_cut}",
        model=m, baseline=b, baseline_kind=task.fold_baselines[0].describe(),
        grade=grade(m, b), algorithms=["logistic"] * settings.folds,
        fit_seconds=round(fit_seconds, 3), held_out=(y, p, base))
    model = NeedModel(need, cfg)
    model.specs_, model.categories_ = probe.specs_, probe.categories_
    model.builder_, model.scorer_, model.algorithm_ = builder, scorer, "logistic"
    model.selection_ = {"logistic": _quality(raw, y, binary)}
    model.calibrator_ = Calibrator(method)
    if method != "none":
        model.calibrator_.fit(raw, y)
    model.train_frame_, model.train_target_ = sample, y_sample
    log.info("need %s: trained on Spark (%d customers, %d features, %d sampled)", need.name,
             n, X.shape[1], len(sample))
    return SparkNeedFit(model, evaluation, task,
                        {**seconds, "fit": round(fit_seconds, 3),
                         "total": round(time.perf_counter() - started, 3)})


def _quality(raw: np.ndarray, y: np.ndarray, binary: bool) -> dict[str, float]:
    if not binary:
        return {"rmse": float(np.sqrt(mean_squared_error(y, raw)))}
    p = Calibrator("sigmoid").fit(raw, y)(raw)
    return {"roc_auc": float(roc_auc_score(y, raw)), "brier": float(brier_score_loss(y, p))}


__all__ = ["SparkNeedFit", "SparkNeedsConfig", "fit_need_spark", "fold_of"]
