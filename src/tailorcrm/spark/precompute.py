"""Precompute on Spark: every customer's top-N list with reasons, made on the executors.

MLlib's ``recommendForAllUsers`` ranks raw ALS scores only: no blend, no exclusion of seen
or bought items, no consent, no rules, no reasons. So the lists are made by the serving
pipeline itself (:class:`~tailorcrm.customize.pipeline.Pipeline` through
:func:`~tailorcrm.customize.precompute.precompute_lists`), run on each executor over one
bucket of customers: the bucket's events and customer rows (with their ALS factors) arrive
cogrouped, the item-side arrays by broadcast, and the single-node models are assembled over
the bucket (:func:`tailorcrm.spark.assemble.assemble`). A list made here is the list serving
would make for that customer, stamped with the run's model version and config hash.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tailorcrm.customize.pipeline import Pipeline
from tailorcrm.customize.precompute import precompute_lists
from tailorcrm.customize.rules import RuleSet
from tailorcrm.customize.strategies import Strategy
from tailorcrm.data.vocab import Vocabulary
from tailorcrm.recommend.ranking_config import RankingConfig
from tailorcrm.schema.event_types import EventType
from tailorcrm.schema.fields import FieldSpec
from tailorcrm.spark.assemble import TrainedArrays, assemble, histories
from tailorcrm.spark.buckets import bucket_dataset

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import DataFrame

    from tailorcrm.spark.tenant import SparkTenant

log = logging.getLogger(__name__)

LIST_SCHEMA = "customer_id string, items string"
NO_EXTRA: dict[str, Any] = {"segments": {}, "needs": {}}
CUSTOMERS_PER_BUCKET = 20_000  # one executor task's slice (bounds its memory)


@dataclass
class PrecomputeContext:
    """What every executor task needs besides its bucket (pickled into the broadcast)."""

    trained: TrainedArrays
    items: pd.DataFrame
    item_vocab: Vocabulary
    fields: tuple[FieldSpec, ...]
    event_types: tuple[EventType, ...]
    strategy: Strategy
    rules: RuleSet
    ranking: RankingConfig
    model_version: str
    config_hash: str


def bucket_lists(ctx: PrecomputeContext, events: pd.DataFrame, customers: pd.DataFrame
                 ) -> pd.DataFrame:
    """The lists of one bucket's customers (``customers``: customer_id, consent columns,
    attributes, factors, segment; ``events``: their events) as (customer_id, items JSON)."""
    if customers.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype=str),
                             "items": pd.Series(dtype=str)})
    data = bucket_dataset(customers.drop(columns=["factors", "segment", "extra"],
                                         errors="ignore"), events,
                          items=ctx.items, item_vocab=ctx.item_vocab, fields=ctx.fields,
                          event_types=ctx.event_types)
    vocab = data.customer_vocab
    order = vocab.index(customers["customer_id"])
    rank = ctx.trained.item_factors.shape[1]
    factors = np.zeros((len(vocab), rank), dtype=np.float32)
    for pos, vec in zip(order, customers["factors"], strict=True):
        if vec is not None and len(vec):
            factors[pos] = np.asarray(vec, dtype=np.float32)
    segment_of = np.full(len(vocab), -1, dtype=np.int64)
    segment_of[order] = customers["segment"].fillna(-1).to_numpy(np.int64)
    model = assemble(ctx.trained, factors, histories(data, ctx.trained.config), segment_of)
    pipeline = Pipeline.build(ctx.strategy, model, data, rules=ctx.rules, chosen=ctx.ranking)
    extras = {str(c): json.loads(x) for c, x in
              zip(customers["customer_id"], customers.get("extra", [None] * len(customers)),
                  strict=True) if isinstance(x, str)}
    rows, _ = precompute_lists(pipeline, [str(c) for c in vocab.ids],
                               model_version=ctx.model_version, config_hash=ctx.config_hash,
                               extra_of=lambda cid: extras.get(cid, NO_EXTRA) if extras
                               else NO_EXTRA)
    return pd.DataFrame({"customer_id": [r["customer_id"] for r in rows],
                         "items": [json.dumps(r["items"]) for r in rows]})


def spark_lists(tenant: SparkTenant, ctx: PrecomputeContext, user_factors: DataFrame,
                segment_of: DataFrame | None = None, rule_inputs: DataFrame | None = None
                ) -> DataFrame:
    """(customer_id, items JSON) of every customer, computed bucket by bucket on Spark.

    ``user_factors``: (customer_idx, factors); ``segment_of``: (customer_idx, segment code);
    ``rule_inputs``: (customer_id, extra JSON: the customer's stored ``segments`` and
    ``needs``) when the rules read them (see :func:`rule_inputs_frame`)."""
    from pyspark.sql import functions as sf

    spark = tenant.events.sparkSession
    buckets = max(1, -(-tenant.n_customers // CUSTOMERS_PER_BUCKET))
    shared = spark.sparkContext.broadcast(ctx)
    index = tenant.customer_index.select(sf.col("id").alias("customer_id"),
                                         sf.col("idx").alias("customer_idx"))
    people = index.join(tenant.customers, "customer_id", "left") \
        .join(user_factors, "customer_idx", "left")
    people = people.join(segment_of, "customer_idx", "left") if segment_of is not None \
        else people.withColumn("segment", sf.lit(None).cast("long"))
    people = people.join(rule_inputs, "customer_id", "left") if rule_inputs is not None \
        else people.withColumn("extra", sf.lit(None).cast("string"))
    people = people.withColumn("bucket", sf.col("customer_idx") % buckets)
    events = tenant.events.join(index, "customer_id") \
        .withColumn("bucket", sf.col("customer_idx") % buckets) \
        .select("bucket", "customer_id", "item_id", "type", "value", "ts")
    columns = ["customer_id", "consent_personalization", "consent_marketing", "attributes",
               "factors", "segment", "extra"]

    def run(ev: pd.DataFrame, cust: pd.DataFrame) -> pd.DataFrame:
        return bucket_lists(shared.value, ev, cust)

    return events.groupBy("bucket").cogroup(people.select("bucket", *columns)
                                            .groupBy("bucket")) \
        .applyInPandas(run, schema=LIST_SCHEMA)


def rule_inputs_frame(spark: Any, segments: dict[str, dict[str, str]],
                      needs: dict[str, dict[str, float]]) -> DataFrame | None:
    """(customer_id, extra JSON) of every customer with stored segments or need scores, for
    rules that read them (``customize/precompute.py`` ``rule_reads``); None when none has.

    Read from the results store on the driver, as the single-node precompute reads them:
    one row per customer, small beside the events."""
    ids = sorted(set(segments) | set(needs))
    if not ids:
        return None
    pdf = pd.DataFrame({"customer_id": ids,
                        "extra": [json.dumps({"segments": segments.get(c, {}),
                                              "needs": needs.get(c, {})}) for c in ids]})
    return spark.createDataFrame(pdf, schema="customer_id string, extra string")


def collect_rows(lists: DataFrame, model_version: str, config_hash: str
                 ) -> Iterator[dict[str, Any]]:
    """The store rows of ``lists``, streamed partition by partition to the driver."""
    for row in lists.toLocalIterator(prefetchPartitions=True):
        yield {"customer_id": row["customer_id"], "items": json.loads(row["items"]),
               "model_version": model_version, "config_hash": config_hash}
