"""ALS on Spark: MLlib's implicit-feedback ALS, configured with ``implicit``'s semantics.

Both libraries minimise Hu, Koren & Volinsky's loss with confidence ``c = 1 + alpha * r``
(``alpha`` means the same in both). They differ in the regularisation: ``implicit`` adds
``λ·I`` to every customer's and item's normal equations, MLlib adds ``regParam · n·I`` where
``n`` is the number of positive entries of that customer (item), "ALS-WR". No setting makes
them equal for every row, so :func:`mllib_reg_param` maps ``λ`` to ``regParam = λ / n̄`` with
``n̄`` the mean number of entries per customer: a customer with the average history then gets
exactly implicit's regularisation. Measured on MovieLens 100K (``docs/scale-out.md``), this
mapping puts MLlib within 1 % nDCG@10 of ``implicit`` at the validation-chosen λ.

The config is :class:`~tailorcrm.recommend.als.ALSConfig` itself, so "the same settings" mean
the same model on both engines, and the saved artifact is an ordinary ``als`` model whose
fold-in (``implicit``'s ``recalculate_user`` with ``λ``) matches how it was trained.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tailorcrm.errors import InsufficientDataError
from tailorcrm.recommend.als import ALSConfig

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparkALSResult:
    """Factors by vocabulary index (rows of customers / items MLlib never saw are zero)."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    reg_param: float
    mean_entries: float
    #: (customer_idx, factors) on Spark: the precompute joins it per customer
    user_frame: DataFrame


def mllib_reg_param(regularization: float, entries: int, customers: int) -> float:
    """MLlib's ``regParam`` for implicit's ``λ`` (see the module docstring)."""
    mean_entries = entries / max(customers, 1)
    return regularization / mean_entries if mean_entries > 0 else regularization


CHECKPOINT_EVERY = 5


def _checkpoint_dir(spark: Any) -> None:
    """MLlib ALS truncates its lineage every :data:`CHECKPOINT_EVERY` iterations only with a
    checkpoint directory; without one a task deserialising the whole lineage can overflow its
    stack. A session without one gets a temporary folder (a cluster sets its own)."""
    context = spark.sparkContext
    if context.getCheckpointDir() is None:
        context.setCheckpointDir(tempfile.mkdtemp(prefix="tailorcrm-spark-ckpt-"))


def fit_als(prefs: DataFrame, n_customers: int, n_items: int, config: ALSConfig
            ) -> SparkALSResult:
    """Fit MLlib ALS on ``prefs`` (customer_idx, item_idx, weight) with ``config``'s
    semantics; factors are collected to the driver as float32 arrays."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as sf

    stats = prefs.agg(sf.count("*").alias("n"),
                      sf.countDistinct("customer_idx").alias("c")).first()
    entries, customers = (int(stats["n"]), int(stats["c"])) if stats else (0, 0)
    if entries == 0:
        raise InsufficientDataError("no positive preferences to train ALS on")
    reg = mllib_reg_param(config.regularization, entries, customers)
    data = prefs.select(sf.col("customer_idx").cast("int").alias("u"),
                        sf.col("item_idx").cast("int").alias("i"),
                        sf.col("weight").cast("float").alias("r"))
    als = ALS(rank=config.factors, maxIter=config.iterations, regParam=reg, alpha=config.alpha,
              implicitPrefs=True, userCol="u", itemCol="i", ratingCol="r",
              seed=config.random_state if config.random_state is not None else 0,
              coldStartStrategy="nan", nonnegative=False,
              checkpointInterval=CHECKPOINT_EVERY)  # cuts the lineage (see _checkpoint_dir)
    _checkpoint_dir(prefs.sparkSession)
    model = als.fit(data)
    log.info("MLlib ALS: %d entries of %d customers, regParam %.5g (λ %.4g)", entries,
             customers, reg, config.regularization)
    users = model.userFactors.select(sf.col("id").cast("long").alias("customer_idx"),
                                     sf.col("features").alias("factors")).cache()
    return SparkALSResult(_factors(users.withColumnRenamed("customer_idx", "id")
                                   .withColumnRenamed("factors", "features"),
                                   n_customers, config.factors),
                          _factors(model.itemFactors, n_items, config.factors),
                          reg, entries / customers, users)


def _factors(frame: DataFrame, rows: int, rank: int) -> np.ndarray:
    """An (id, features) factor DataFrame as a dense array by id, zeros where absent."""
    out = np.zeros((rows, rank), dtype=np.float32)
    pdf = frame.toPandas()  # Arrow: one columnar transfer, not a Python object per row
    if len(pdf):
        out[pdf["id"].to_numpy(dtype=np.int64)] = np.vstack(
            [np.asarray(f, dtype=np.float32) for f in pdf["features"]])
    return out
