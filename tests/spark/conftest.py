"""Fixtures of the Spark tests: one local[2] SparkSession per test session, and a demo tenant.

With ``TAILORCRM_REQUIRE_SPARK=1`` (CI sets it) a Spark that cannot start fails these tests
instead of skipping them, as ``TAILORCRM_REQUIRE_POSTGRES`` does for PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tailorcrm.spark.engine import SparkConfig, spark_installed

#: Small on purpose: two cores, a handful of shuffle partitions, no UI.
TEST_SPARK = SparkConfig(master="local[2]", app_name="tailorcrm-tests",
                         conf={"spark.sql.shuffle.partitions": "4",
                               "spark.default.parallelism": "4",
                               "spark.driver.memory": "1g"})


def _unavailable(reason: str) -> None:
    if os.environ.get("TAILORCRM_REQUIRE_SPARK") == "1":
        pytest.fail(f"TAILORCRM_REQUIRE_SPARK=1 but Spark is unavailable: {reason}")
    pytest.skip(f"Spark unavailable: {reason}")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A real local[2] SparkSession (JVM included), shared by every Spark test."""
    if not spark_installed():
        _unavailable("PySpark is not installed (pip install 'tailorcrm[spark]')")
    from tailorcrm.errors import ConfigError
    from tailorcrm.spark.engine import spark_session

    try:
        session = spark_session(TEST_SPARK)
    except ConfigError as exc:
        _unavailable(exc.message)
    yield session
    session.stop()
