"""The customer × item preference matrix on Spark, as (customer_idx, item_idx, weight) rows.

The same weights as :meth:`tailorcrm.data.dataset.Dataset.interaction_matrix` and
:func:`tailorcrm.recommend.base.training_matrix` give on one machine: each event weighs its
catalog weight (``uses_value`` types ``weight * (value - value_center)``, a missing value
counting as ``value_center + 1``; non-preference types 0; unknown types 1), weights are summed
per pair, negative sums are clipped away, and customers who denied personalization are left
out of training. Events without an item are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tailorcrm.schema.event_types import EventType
from tailorcrm.spark.tenant import SparkTenant

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import Column, DataFrame

SparkWeighting = Literal["catalog", "binary", "count"]


def event_weight(event_types: tuple[EventType, ...]) -> Column:
    """A Spark column: each event's catalog weight (see the module docstring)."""
    from pyspark.sql import functions as sf

    expr = sf.lit(1.0)
    cases = None
    for et in event_types:
        if not et.preference:
            weight = sf.lit(0.0)
        elif et.uses_value:
            value = sf.coalesce(sf.col("value").cast("double"), sf.lit(et.value_center + 1.0))
            weight = sf.lit(et.weight) * (value - sf.lit(et.value_center))
        else:
            weight = sf.lit(float(et.weight))
        hit = sf.col("type") == sf.lit(et.name)
        cases = sf.when(hit, weight) if cases is None else cases.when(hit, weight)
    return expr if cases is None else cases.otherwise(expr)


def indexed_events(tenant: SparkTenant) -> DataFrame:
    """Events with an item, as (customer_idx, item_idx, type, value, ts) rows."""
    from pyspark.sql import functions as sf

    ev = tenant.events.where(sf.col("item_id").isNotNull())
    cust = tenant.customer_index.select(sf.col("id").alias("customer_id"),
                                        sf.col("idx").alias("customer_idx"))
    item = tenant.item_index.select(sf.col("id").alias("item_id"),
                                    sf.col("idx").alias("item_idx"))
    return ev.join(cust, "customer_id").join(item, "item_id")


def denied_customers(tenant: SparkTenant) -> DataFrame:
    """Indices of customers who denied personalization (left out of training)."""
    from pyspark.sql import functions as sf

    denied = tenant.customers.where(sf.col("consent_personalization") == "denied") \
        .select(sf.col("customer_id").alias("id"))
    return denied.join(tenant.customer_index, "id").select(sf.col("idx").alias("customer_idx"))


def preferences(tenant: SparkTenant, weighting: SparkWeighting = "catalog",
                *, training: bool = True) -> DataFrame:
    """(customer_idx, item_idx, weight) of every pair with a positive weight.

    ``training``: leave out customers who denied personalization (as
    :func:`~tailorcrm.recommend.base.training_matrix` does); False keeps everyone (the
    history serving excludes seen items with).
    """
    from pyspark.sql import functions as sf

    ev = indexed_events(tenant)
    if weighting == "count":
        pairs = ev.groupBy("customer_idx", "item_idx").agg(sf.count("*").cast("double")
                                                           .alias("weight"))
    else:
        pairs = ev.withColumn("w", event_weight(tenant.event_types)) \
            .groupBy("customer_idx", "item_idx").agg(sf.sum("w").alias("weight")) \
            .where(sf.col("weight") > 0)
        if weighting == "binary":
            pairs = pairs.withColumn("weight", sf.lit(1.0))
    if training:
        pairs = pairs.join(sf.broadcast(denied_customers(tenant)), "customer_idx", "left_anti")
    return pairs.select("customer_idx", "item_idx", "weight")
