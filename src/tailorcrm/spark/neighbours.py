"""Item-item cosine similarities on Spark (MLlib's ``columnSimilarities``), top-k per item.

MLlib has the model: :meth:`RowMatrix.columnSimilarities` computes the cosine of every pair
of columns (items) of the customer × item matrix, exactly with ``threshold=0`` and with
DIMSUM sampling (Zadeh & Goel) above it, which skips pairs whose cosine is likely below the
threshold and bounds the shuffle for catalogs where the exact product is too costly. What
MLlib does not do is keep the top ``k`` neighbours per item; a window does that here. The
result is the ``similarity_`` matrix of :class:`~tailorcrm.recommend.itemknn.ItemKNN` (cosine
over the same weights), so the saved artifact serves, explains and folds in unchanged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)


def item_similarities(prefs: DataFrame, n_items: int, k: int = 100,
                      threshold: float = 0.0) -> sparse.csr_matrix:
    """Top-``k`` cosine neighbours of every item (``n_items`` × ``n_items`` CSR, zero
    diagonal) from ``prefs`` (customer_idx, item_idx, weight)."""
    from pyspark.mllib.linalg import Vectors
    from pyspark.mllib.linalg.distributed import RowMatrix
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    size = int(n_items)
    rows = prefs.rdd.map(lambda r: (int(r[0]), (int(r[1]), float(r[2])))).groupByKey() \
        .map(lambda kv: Vectors.sparse(size, sorted(kv[1])))
    if rows.isEmpty():
        return sparse.csr_matrix((size, size))
    sims = RowMatrix(rows, numCols=size).columnSimilarities(threshold)
    spark = prefs.sparkSession
    upper = spark.createDataFrame(sims.entries.map(lambda e: (int(e.i), int(e.j),
                                                              float(e.value))),
                                  "i long, j long, s double")
    both = upper.unionByName(upper.select(sf.col("j").alias("i"), sf.col("i").alias("j"), "s"))
    rank = sf.row_number().over(Window.partitionBy("i").orderBy(sf.desc("s"), sf.asc("j")))
    top = both.where(sf.col("i") != sf.col("j")).withColumn("r", rank) \
        .where(sf.col("r") <= k).drop("r").toPandas()
    sim = sparse.csr_matrix((top["s"].to_numpy(np.float64),
                             (top["i"].to_numpy(np.int64), top["j"].to_numpy(np.int64))),
                            shape=(size, size))
    log.info("item cosine on Spark: %d similarities kept (k=%d, threshold %.3g)", sim.nnz, k,
             threshold)
    return sim
