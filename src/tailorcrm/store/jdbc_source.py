"""JDBC options for Spark to read one tenant straight from PostgreSQL (the non-default source).

Spark reads the three tables itself, events split into ``numPartitions`` ranges of ``id`` so
each executor reads its own slice. It needs the PostgreSQL JDBC driver on the classpath
(``--jars postgresql.jar``; Debian ships it as ``libpostgresql-jdbc-java``). The default
source stays the Parquet export: a long job then holds no database connections, and the
files can sit on the cluster's own storage.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from tailorcrm.store.tables import Event


def jdbc_sources(engine: Engine, tid: int, partitions: int = 16) -> dict[str, dict[str, str]]:
    """``{"customers"|"items"|"events": spark.read.jdbc options}`` of tenant ``tid``."""
    if engine.dialect.name != "postgresql":
        from tailorcrm.errors import ConfigError

        raise ConfigError("the jdbc source reads PostgreSQL; use the parquet source on SQLite")
    url = engine.url
    base = {"url": f"jdbc:postgresql://{url.host or 'localhost'}:{url.port or 5432}/"
                   f"{url.database}", "user": url.username or "", "password": url.password or "",
            "driver": "org.postgresql.Driver", "fetchsize": "10000"}
    with engine.connect() as conn:
        low, high = conn.execute(select(func.min(Event.id), func.max(Event.id))
                                 .where(Event.tenant_id == tid)).one()
    t = int(tid)
    return {
        "customers": {**base, "dbtable": "(SELECT customer_id, consent_personalization, "
                      "consent_marketing, attributes::text AS attributes FROM customers "
                      f"WHERE tenant_id = {t}) c"},
        "items": {**base, "dbtable": "(SELECT item_id, title, description, categories::text "
                  "AS categories, price, available, attributes::text AS attributes FROM items "
                  f"WHERE tenant_id = {t}) i"},
        "events": {**base, "dbtable": "(SELECT id, customer_id, item_id, type, value, ts FROM "
                   f"events WHERE tenant_id = {t}) e", "partitionColumn": "id",
                   "lowerBound": str(int(low or 0)), "upperBound": str(int(high or 0) + 1),
                   "numPartitions": str(partitions)},
    }
