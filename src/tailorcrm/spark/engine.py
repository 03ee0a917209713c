"""The engine factory: a SparkSession from settings, with PySpark imported only when asked for.

PySpark is an optional extra (``pip install 'tailorcrm[spark]'``); nothing outside
:mod:`tailorcrm.spark` imports it, and this module imports it only inside
:func:`spark_session`, so the core runs (and imports) without it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tailorcrm.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - types only
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"
#: Settings every session gets unless the caller's ``conf`` says otherwise: no web UI (a
#: training job needs none, and it costs a port and start-up time), few shuffle partitions
#: (the default 200 is sized for clusters; on one machine each is a task's overhead), Arrow
#: for the pandas exchanges (collecting factors, mapInPandas precompute), and 16 MB thread
#: stacks: deserialising a long lineage (ALS iterations, then the precompute over them) is
#: recursive and overflowed the JVM's default 1 MB stack in a task now and then.
DEFAULT_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": "-Xss16m",
    "spark.executor.extraJavaOptions": "-Xss16m",
}


class SparkConfig(BaseModel):
    """Where and how Spark runs: ``master`` (``local[2]``, ``yarn``, ``k8s://...``,
    ``spark://...``) and extra ``spark.*`` settings (``conf``) over :data:`DEFAULT_CONF`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    master: str = DEFAULT_MASTER
    app_name: str = "tailorcrm"
    conf: dict[str, str] = Field(default_factory=dict)

    def settings(self) -> dict[str, str]:
        """Every ``spark.*`` setting the session gets.

        In local mode the Python workers run this interpreter (the one tailorcrm is
        installed in); on a cluster the executors' Python comes from the cluster's own
        settings (``spark.pyspark.python``, or an archive of the environment).
        """
        local = {"spark.pyspark.python": sys.executable} if self.master.startswith("local") \
            else {}
        return {**DEFAULT_CONF, **local, **self.conf}


def parse_conf(pairs: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` (the CLI's ``--conf``) as a dict; ConfigError on a pair without ``=``."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--conf takes key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def spark_installed() -> bool:
    """True when PySpark can be imported (the ``spark`` extra is installed)."""
    return importlib.util.find_spec("pyspark") is not None


def java_found() -> bool:
    """True when a ``java`` executable is on the PATH (PySpark starts its JVM with it)."""
    return shutil.which("java") is not None


def spark_session(config: SparkConfig | None = None,
                  extra: Mapping[str, Any] | None = None) -> SparkSession:
    """A SparkSession for ``config`` (``getOrCreate``: an active session is reused).

    ConfigError when PySpark is not installed or the JVM does not start, naming the fix.
    """
    cfg = config or SparkConfig()
    if not spark_installed():
        raise ConfigError("the Spark engine needs PySpark: pip install 'tailorcrm[spark]'")
    from pyspark.sql import SparkSession

    python = cfg.settings().get("spark.pyspark.python")
    if python:  # PySpark starts its local Python workers with $PYSPARK_PYTHON, not the conf
        os.environ.setdefault("PYSPARK_PYTHON", python)
    builder = SparkSession.builder.master(cfg.master).appName(cfg.app_name)
    for key, value in {**cfg.settings(), **dict(extra or {})}.items():
        builder = builder.config(key, str(value))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM failed to start (no Java, bad master, bad setting)
        hint = "" if java_found() else " (no java on the PATH: install a JDK 17+)"
        raise ConfigError(f"Spark could not start on {cfg.master}: {exc}{hint}") from exc
    session.sparkContext.setLogLevel("WARN")
    log.info("Spark %s on %s", session.version, cfg.master)
    return session
