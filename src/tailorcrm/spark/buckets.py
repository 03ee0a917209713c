"""One executor task's slice of a tenant as an ordinary :class:`~tailorcrm.data.dataset.Dataset`.

The Spark jobs split customers into buckets (``customer_idx % buckets``), cogroup each
bucket's customer rows with its events, and run the single-node code on the bucket. Every
single-node computation that is per customer gives the same answer on a bucket as on the
whole tenant, except what reads the tenant's first or last event time (the "no events yet"
recency of behavioural features, the present of need scoring). Those are kept global by two
*anchor* events at the tenant's first and last event time, on a customer id no real
customer can have and an event type no catalog names: they move ``data.events["ts"]``'s
minimum and maximum to the tenant's, and nothing else (every per-customer computation filters
by the bucket's own customer ids).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tailorcrm.data.dataset import Dataset, normalize_events
from tailorcrm.data.vocab import Vocabulary
from tailorcrm.schema.event_types import EventType
from tailorcrm.schema.fields import FieldSpec
from tailorcrm.store.parquet_export import from_export

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import DataFrame

    from tailorcrm.spark.tenant import SparkTenant

ANCHOR = "\x00tailorcrm-anchor"
"""Customer id and event type of the anchor events (a NUL byte: no imported id has one)."""
EVENT_COLUMNS = ["customer_id", "item_id", "type", "value", "ts"]
PEOPLE_COLUMNS = ["customer_id", "consent_personalization", "consent_marketing", "attributes"]
CUSTOMERS_PER_BUCKET = 20_000


def _empty_events() -> pd.DataFrame:
    return Dataset.from_events(pd.DataFrame({"customer_id": ["x"], "item_id": ["y"]})) \
        .events.iloc[:0]


def bucket_dataset(customers: pd.DataFrame, events: pd.DataFrame, *, items: pd.DataFrame,
                   item_vocab: Vocabulary, fields: tuple[FieldSpec, ...],
                   event_types: tuple[EventType, ...],
                   anchors: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> Dataset:
    """The Dataset of one bucket.

    ``customers``: exported customer rows (customer_id, consent columns, attributes JSON);
    ``events``: their events; ``items``: the whole item table (broadcast);
    ``anchors``: the tenant's (first, last) event time, added as anchor events.
    """
    customer_fields = [f for f in fields if f.entity == "customer"]
    people = from_export(customers, customer_fields, "customer_id")
    for column in ("consent_personalization", "consent_marketing"):
        people[column] = people[column].fillna("unknown")
    vocab = Vocabulary(people.index)
    frames = []
    if len(events):
        own = events[EVENT_COLUMNS].copy()
        own["ts"] = pd.to_datetime(own["ts"], utc=True)  # Spark hands naive UTC times
        frames.append(own)
    if anchors is not None:
        frames.append(pd.DataFrame({"customer_id": [ANCHOR, ANCHOR], "item_id": [None, None],
                                    "type": [ANCHOR, ANCHOR], "value": [float("nan")] * 2,
                                    "ts": list(anchors)}))
    ev = normalize_events(pd.concat(frames, ignore_index=True)) if frames else _empty_events()
    ev = ev.sort_values("ts", kind="stable").reset_index(drop=True)
    return Dataset(customers=people, items=items, events=ev,
                   customer_fields=tuple(customer_fields),
                   item_fields=tuple(f for f in fields if f.entity == "item"),
                   event_types=event_types, customer_vocab=vocab, item_vocab=item_vocab)


@dataclass
class TenantTimes:
    """The tenant's first and last event time and its daily event counts (for data_end)."""

    first: pd.Timestamp | None
    last: pd.Timestamp | None
    counts: pd.Series
    last_by_day: pd.Series


def tenant_times(tenant: SparkTenant) -> TenantTimes:
    """Aggregated on Spark: one row per day with events."""
    from pyspark.sql import functions as sf

    micros = sf.unix_micros(sf.col("ts"))
    daily = tenant.events.select(micros.alias("us")) \
        .groupBy(sf.floor(sf.col("us") / 86_400_000_000).alias("day")) \
        .agg(sf.count("*").alias("n"), sf.max("us").alias("last")).toPandas()
    if daily.empty:
        empty = pd.Series(dtype=float)
        return TenantTimes(None, None, empty, empty)
    days = pd.to_datetime(daily["day"].to_numpy(np.int64), unit="D", utc=True)
    last = pd.to_datetime(daily["last"].to_numpy(np.int64), unit="us", utc=True)
    first_us = tenant.events.select(sf.min(micros)).first()
    assert first_us is not None
    return TenantTimes(pd.Timestamp(int(first_us[0]), unit="us", tz="UTC"), last.max(),
                       pd.Series(daily["n"].to_numpy(np.int64), index=days),
                       pd.Series(last, index=days))


def run_buckets(tenant: SparkTenant, shared: Any, run: Callable[..., pd.DataFrame],
             schema: str) -> DataFrame:
    """``run(task, events, customers)`` on every bucket (events and customer rows cogrouped)."""
    from pyspark.sql import functions as sf

    buckets = max(1, -(-tenant.n_customers // CUSTOMERS_PER_BUCKET))
    index = tenant.customer_index.select(sf.col("id").alias("customer_id"),
                                         sf.col("idx").alias("customer_idx"))
    people = index.join(tenant.customers, "customer_id", "left") \
        .withColumn("bucket", sf.col("customer_idx") % buckets)
    events = tenant.events.join(index, "customer_id") \
        .withColumn("bucket", sf.col("customer_idx") % buckets) \
        .select("bucket", "customer_id", "item_id", "type", "value", "ts")

    def apply(ev: pd.DataFrame, cust: pd.DataFrame) -> pd.DataFrame:
        return run(shared.value, ev, cust)

    return events.groupBy("bucket").cogroup(people.select("bucket", *PEOPLE_COLUMNS)
                                            .groupBy("bucket")).applyInPandas(apply, schema)
