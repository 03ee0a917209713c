"""The CLI's side of ``tailorcrm train --engine spark``: settings in, report out."""

from __future__ import annotations

from typing import Any

from tailorcrm.jobs.progress import rich_progress
from tailorcrm.jobs.train import TrainConfig
from tailorcrm.settings import Settings
from tailorcrm.spark.engine import SparkConfig, parse_conf
from tailorcrm.spark.job import SparkTrainConfig, train_tenant_spark
from tailorcrm.store import Store


def spark_train_config(settings: Settings, master: str | None = None,
                       conf: list[str] | None = None) -> SparkTrainConfig:
    """The Spark run's config: the settings file's ``spark_master`` / ``spark_conf``,
    overridden by the command line's ``--master`` / ``--conf k=v``."""
    spark = SparkConfig(master=master or settings.spark_master,
                        conf={**settings.spark_conf, **parse_conf(conf)})
    return SparkTrainConfig(spark=spark)


def train_on_spark(store: Store, tid: int, settings: Settings, config: TrainConfig,
                   master: str | None, conf: list[str] | None, console: Any) -> None:
    """Train tenant ``tid`` on Spark and print the report."""
    scfg = spark_train_config(settings, master, conf)
    with rich_progress(console) as progress:
        report = train_tenant_spark(store, tid, settings.artifacts_dir, config, scfg, progress)
    console.print(f"recommender: trained on Spark ({scfg.spark.master}), version "
                  f"{report.recommender_version}, {report.recommendation_lists} lists")
    console.print_json(report.model_dump_json())
