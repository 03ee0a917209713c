"""Publishing a need trained on Spark: every customer's score rows made on the executors,
stored through the single-node gate (:func:`~tailorcrm.needs.publishing.gate_and_publish`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from tailorcrm.needs.baseline import Baseline
from tailorcrm.needs.definitions import AnyNeed
from tailorcrm.needs.gate import GateConfig, GateDecision
from tailorcrm.needs.model import ModelConfig, NeedModel
from tailorcrm.needs.publishing import NeedOutcome, baseline_rows, gate_and_publish
from tailorcrm.needs.scoring import score_rows
from tailorcrm.spark.buckets import run_buckets
from tailorcrm.spark.needs import (
    SCORE_SCHEMA,
    NeedTask,
    RowMaker,
    SparkNeedsConfig,
    fit_need_spark,
    score_part,
)

if TYPE_CHECKING:  # pragma: no cover - types only
    from pathlib import Path

    from tailorcrm.data.dataset import Dataset
    from tailorcrm.spark.tenant import SparkTenant
    from tailorcrm.store import Store


@dataclass
class ModelRows:
    """The model's score rows of one bucket (picklable, for the broadcast)."""

    model: NeedModel
    version: str
    top: int

    def __call__(self, data: Dataset) -> list[dict[str, Any]]:
        return score_rows(self.model, data, self.version, top=self.top)


@dataclass
class BaselineRows:
    """The baseline's score rows of one bucket (picklable, for the broadcast)."""

    model: NeedModel
    base: Baseline
    decision: GateDecision
    version: str

    def __call__(self, data: Dataset) -> list[dict[str, Any]]:
        return baseline_rows(self.model, self.base, data, self.decision, self.version)


def spark_rows(tenant: SparkTenant, task: NeedTask, make: RowMaker) -> Iterator[dict[str, Any]]:
    """Pass 4: the rows ``make`` gives for every bucket, streamed back to the driver."""
    spark = tenant.events.sparkSession
    shared = spark.sparkContext.broadcast((make, task))

    def run(pair: tuple[RowMaker, NeedTask], ev: pd.DataFrame, cust: pd.DataFrame
            ) -> pd.DataFrame:
        return score_part(pair[0], pair[1], ev, cust)

    out = run_buckets(tenant, shared, run, SCORE_SCHEMA)
    for row in out.toLocalIterator(prefetchPartitions=True):
        yield {"customer_id": row["customer_id"], "score": float(row["score"]),
               "model_version": row["model_version"], "reasons": json.loads(row["reasons"])}


def train_and_publish_spark(store: Store, tid: int, tenant: SparkTenant, need: AnyNeed,
                            artifacts: Path, *, config: ModelConfig | None = None,
                            settings: SparkNeedsConfig | None = None,
                            gate: GateConfig | None = None, erased_after: int | None = None,
                            top: int = 3) -> NeedOutcome:
    """Train ``need`` on Spark and publish it through the single-node gate."""
    fit = fit_need_spark(tenant, need, config, settings)
    model = fit.model

    def model_rows(version: str) -> Iterator[dict[str, Any]]:
        return spark_rows(tenant, fit.task, ModelRows(model, version, top))

    def base_rows(base: Baseline, decision: GateDecision, version: str
                  ) -> Iterator[dict[str, Any]]:
        return spark_rows(tenant, fit.task, BaselineRows(model, base, decision, version))

    return gate_and_publish(store, tid, model, fit.evaluation, artifacts,
                            model_rows=model_rows, base_rows=base_rows, gate=gate,
                            erased_after=erased_after)
