"""RFM segments on Spark, equal to :func:`tailorcrm.needs.rfm.rfm_table` on one machine.

Recency, frequency and monetary value are per customer: each bucket runs ``rfm_table`` on
its own customers at the tenant-wide reference (the day after the last event). The quintile
scores are not: a score is ``1 + floor(5 · c / n)`` with ``c`` the number of buyers with a
strictly worse value, so ``score > s`` exactly when the value exceeds the ``⌈s·n/5⌉``-th
smallest value. Those four order statistics per column come from one distributed sort each
(``orderBy`` + ``zipWithIndex``, as the vocabularies are numbered), and the scores and
named segments are then Spark expressions: nothing per customer passes through the driver
until the write-back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tailorcrm.needs.rfm import NO_PURCHASES, RFM_GRID, RFMConfig, rfm_table
from tailorcrm.spark.buckets import bucket_dataset

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import Column, DataFrame

    from tailorcrm.spark.tenant import SparkTenant

VALUES_SCHEMA = "customer_id string, recency_days double, frequency double, monetary double"


@dataclass
class RFMTask:
    """What every bucket needs (broadcast)."""

    items: pd.DataFrame
    item_vocab: Any
    fields: tuple[Any, ...]
    event_types: tuple[Any, ...]
    reference: pd.Timestamp
    config: RFMConfig
    table_empty: bool


def bucket_values(task: RFMTask, events: pd.DataFrame, customers: pd.DataFrame
                  ) -> pd.DataFrame:
    """Recency, frequency and monetary value of one bucket's customers."""
    if customers.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype=str),
                             **{c: pd.Series(dtype=float)
                                for c in ("recency_days", "frequency", "monetary")}})
    # customers of the customer table (built-in consent set); event-only ids count only
    # when the table is empty, as on one machine
    own = customers if task.table_empty else \
        customers[customers["consent_personalization"].notna()]
    data = bucket_dataset(own, events, items=task.items, item_vocab=task.item_vocab,
                          fields=task.fields, event_types=task.event_types)
    table = rfm_table(data, task.reference, task.config)
    return pd.DataFrame({"customer_id": table.index.astype(str),
                         "recency_days": table["recency_days"].to_numpy(np.float64),
                         "frequency": table["frequency"].to_numpy(np.float64),
                         "monetary": table["monetary"].to_numpy(np.float64)})


def order_statistics(values: DataFrame, column: str, n: int) -> list[float]:
    """The ``⌈s·n/5⌉``-th smallest values of ``column`` (s = 1..4), by a distributed sort."""
    wanted = {math.ceil(s * n / 5) - 1: s for s in range(1, 5)}  # 0-based positions
    ranked = values.select(column).orderBy(column).rdd.zipWithIndex() \
        .filter(lambda pair: pair[1] in wanted).collect()
    found = {int(pos): float(row[0]) for row, pos in ranked}
    return [found[pos] for pos in sorted(wanted)]


def _score(value: Column, cuts: list[float]) -> Column:
    from pyspark.sql import functions as sf

    out = sf.lit(1)
    for cut in cuts:
        out = out + sf.when(value > sf.lit(cut), 1).otherwise(0)
    return out


def rfm_segments(tenant: SparkTenant, items: pd.DataFrame, config: RFMConfig | None = None
                 ) -> DataFrame:
    """(customer_id, segment) of every customer, computed on Spark."""
    from pyspark.sql import functions as sf

    from tailorcrm.spark.buckets import run_buckets, tenant_times

    times = tenant_times(tenant)
    reference = (times.last.normalize() + pd.Timedelta(days=1) if times.last is not None
                 else pd.Timestamp.now(tz="UTC").normalize())
    task = RFMTask(items, tenant.item_vocab, tenant.fields, tenant.event_types, reference,
                   config or RFMConfig(), tenant.customers.limit(1).count() == 0)
    spark = tenant.events.sparkSession
    values = run_buckets(tenant, spark.sparkContext.broadcast(task), bucket_values,
                      VALUES_SCHEMA).cache()
    buyers = values.where(sf.col("recency_days").isNotNull()) \
        .withColumn("neg_recency", -sf.col("recency_days")).cache()
    n = buyers.count()
    if n == 0:
        return values.select("customer_id", sf.lit(NO_PURCHASES).alias("segment"))
    r = _score(sf.col("neg_recency"), order_statistics(buyers, "neg_recency", n))
    f = _score(sf.col("frequency"), order_statistics(buyers, "frequency", n))
    m = _score(sf.col("monetary"), order_statistics(buyers, "monetary", n))
    scored = buyers.select("customer_id", r.alias("r"),
                           sf.floor((f + m) / 2.0 + 0.5).cast("int").alias("fm"))
    grid = sf.create_map(*[x for (rr, row) in RFM_GRID.items()
                           for fm, name in enumerate(row, start=1)
                           for x in (sf.lit(f"{rr}{fm}"), sf.lit(name))])
    named = scored.select("customer_id", grid[sf.concat(sf.col("r").cast("string"),
                                                        sf.col("fm").cast("string"))]
                          .alias("segment"))
    return values.select("customer_id").join(named, "customer_id", "left") \
        .select("customer_id", sf.coalesce(sf.col("segment"), sf.lit(NO_PURCHASES))
                .alias("segment"))
