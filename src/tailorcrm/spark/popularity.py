"""Popularity on Spark: global shares and per-segment shares shrunk towards them.

MLlib has no popularity model; this is two aggregations. The arithmetic is
:class:`~tailorcrm.recommend.popularity.Popularity`'s: an item's share of all positive
weight, and per segment of ``segment_field`` the segment's counts plus ``shrinkage`` average
pseudo-customers of global shares, normalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import DataFrame

    from tailorcrm.spark.tenant import SparkTenant


@dataclass(frozen=True)
class PopularityArrays:
    """The learned arrays of a popularity model, by vocabulary index."""

    global_: np.ndarray
    segment_of: np.ndarray
    segment_scores: np.ndarray
    segment_names: list[str]


def _by_item(frame: DataFrame, n_items: int) -> np.ndarray:
    out = np.zeros(n_items)
    pdf = frame.toPandas()
    if len(pdf):
        out[pdf["item_idx"].to_numpy(np.int64)] = pdf["w"].to_numpy(np.float64)
    return out


def fit_popularity(tenant: SparkTenant, prefs: DataFrame, segment_field: str | None = None,
                   shrinkage: float = 10.0) -> PopularityArrays:
    """Global (and, with ``segment_field``, per-segment) popularity from ``prefs``."""
    from pyspark.sql import functions as sf

    counts = _by_item(prefs.groupBy("item_idx").agg(sf.sum("weight").alias("w")),
                      tenant.n_items)
    total = counts.sum()
    global_ = counts / total if total > 0 else counts
    segment_of = np.full(tenant.n_customers, -1, dtype=np.int64)
    if segment_field is None:
        return PopularityArrays(global_, segment_of, np.zeros((0, tenant.n_items)), [])
    # a built-in column, or a custom attribute inside the exported JSON
    value = sf.col(segment_field) if segment_field in tenant.customers.columns else \
        sf.get_json_object(sf.col("attributes"), f"$.{segment_field}")
    seg = tenant.customers.select(sf.col("customer_id").alias("id"),
                                  value.cast("string").alias("segment")) \
        .where(sf.col("segment").isNotNull()) \
        .join(tenant.customer_index, "id").select(sf.col("idx").alias("customer_idx"),
                                                 "segment").cache()
    members = seg.toPandas()
    names = sorted(members["segment"].unique().tolist())
    code = {n: i for i, n in enumerate(names)}
    segment_of[members["customer_idx"].to_numpy(np.int64)] = members["segment"].map(code)
    sums = prefs.join(seg, "customer_idx").groupBy("segment", "item_idx") \
        .agg(sf.sum("weight").alias("w")).toPandas()
    rows = []
    for name in names:
        part = sums[sums["segment"] == name]
        seg_counts = np.zeros(tenant.n_items)
        seg_counts[part["item_idx"].to_numpy(np.int64)] = part["w"].to_numpy(np.float64)
        size = int((segment_of == code[name]).sum())
        per_customer = seg_counts.sum() / max(size, 1)
        mixed = seg_counts + shrinkage * per_customer * global_
        rows.append(mixed / mixed.sum() if mixed.sum() > 0 else global_)
    seg.unpersist()
    return PopularityArrays(global_, segment_of, np.vstack(rows), [str(n) for n in names])
