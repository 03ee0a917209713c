"""One tenant's data as Spark DataFrames, with vocabularies built on Spark.

The tenant arrives as the Parquet export of :mod:`tailorcrm.store.parquet_export` (the
default: files on shared storage, read in parallel) or over JDBC (PostgreSQL, see
:mod:`tailorcrm.store.jdbc_source`). Vocabularies are built here the way
:class:`~tailorcrm.data.vocab.Vocabulary` builds them on one machine: the distinct ids of the
customers (items) table and of the events, sorted (Spark compares strings by their UTF-8
bytes, which is code-point order, as Python's sort), index = rank. So index ``i`` means the
same customer on both paths, and the artifacts a Spark run writes line up with serving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tailorcrm.data.vocab import Vocabulary
from tailorcrm.schema.event_types import EventType
from tailorcrm.schema.fields import FieldSpec

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class SparkTenant:
    """A tenant on Spark: ``customers``, ``items``, ``events`` DataFrames, their catalog and
    schema, and the index of every customer and item (``customer_index``: id, idx)."""

    customers: DataFrame
    items: DataFrame
    events: DataFrame
    event_types: tuple[EventType, ...]
    fields: tuple[FieldSpec, ...]
    customer_index: DataFrame
    item_index: DataFrame
    customer_vocab: Vocabulary
    item_vocab: Vocabulary

    @property
    def n_customers(self) -> int:
        return len(self.customer_vocab)

    @property
    def n_items(self) -> int:
        return len(self.item_vocab)


def read_export(spark: SparkSession, folder: str | Path) -> SparkTenant:
    """A tenant from the Parquet files :func:`~tailorcrm.store.parquet_export.export_tenant`
    wrote (``folder`` may be any path Spark reads: local, ``hdfs://``, ``s3a://``...)."""
    root = str(folder).rstrip("/")
    manifest = json.loads(Path(root, "manifest.json").read_text())
    customers = spark.read.parquet(f"{root}/customers.parquet")
    items = spark.read.parquet(f"{root}/items.parquet")
    events = spark.read.parquet(f"{root}/events").drop("id")
    return with_vocabularies(customers, items, events,
                             tuple(EventType.model_validate(t) for t in manifest["event_types"]),
                             tuple(FieldSpec.model_validate(f) for f in manifest["fields"]))


def read_jdbc(spark: SparkSession, sources: dict[str, dict[str, str]],
              event_types: tuple[EventType, ...], fields: tuple[FieldSpec, ...]
              ) -> SparkTenant:
    """A tenant read over JDBC, each table with the options
    :func:`~tailorcrm.store.jdbc_source.jdbc_sources` gives (events partitioned by ``id``
    ranges, so every executor reads its own slice)."""
    frames = {name: spark.read.format("jdbc").options(**opts).load()
              for name, opts in sources.items()}
    return with_vocabularies(frames["customers"], frames["items"], frames["events"],
                             event_types, fields)


def with_vocabularies(customers: DataFrame, items: DataFrame, events: DataFrame,
                      event_types: tuple[EventType, ...], fields: tuple[FieldSpec, ...]
                      ) -> SparkTenant:
    """The tenant with its customer and item vocabularies built on Spark."""
    from pyspark.sql import functions as sf

    events = events.where(sf.col("ts").isNotNull())
    cust_index, cust_ids = _index(customers.select(sf.col("customer_id").alias("id")),
                                  events.select(sf.col("customer_id").alias("id")))
    item_index, item_ids = _index(items.select(sf.col("item_id").alias("id")),
                                  events.select(sf.col("item_id").alias("id")))
    return SparkTenant(customers, items, events, event_types, fields, cust_index, item_index,
                       _vocab(cust_ids), _vocab(item_ids))


def _index(*columns: DataFrame) -> tuple[DataFrame, list[str]]:
    """(id, idx) of the sorted distinct non-null ids of ``columns``, cached, and the ids."""
    from pyspark.sql import functions as sf
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    union = columns[0]
    for other in columns[1:]:
        union = union.unionByName(other)
    distinct = union.where(sf.col("id").isNotNull()).distinct().orderBy("id")
    # zipWithIndex numbers rows in the sorted order across partitions (no single-partition
    # window: it scales to tens of millions of ids)
    indexed = distinct.rdd.zipWithIndex().map(lambda pair: (str(pair[0][0]), int(pair[1])))
    schema = StructType([StructField("id", StringType(), False),
                         StructField("idx", LongType(), False)])
    frame = indexed.toDF(schema).cache()
    ids = [str(r[0]) for r in frame.orderBy("idx").select("id").toLocalIterator()]
    return frame, ids


def _vocab(sorted_ids: list[str]) -> Vocabulary:
    """A Vocabulary of ids already sorted and distinct (its own sort then keeps the order)."""
    return Vocabulary(sorted_ids)

