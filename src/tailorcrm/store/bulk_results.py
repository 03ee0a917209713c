"""Bulk write-back of precomputed lists and need scores: PostgreSQL ``COPY``, SQLite executemany.

The results repositories (``store.recommendations.replace``) build every row in memory and
insert through SQLAlchemy, right for a single machine's run. A Spark run streams millions of
lists back from the executors; here they are written chunk by chunk inside one transaction
(readers see the old lists or the new ones, never a mix): delete the strategy's rows, then
``COPY ... FROM STDIN`` (PostgreSQL) or ``executemany`` (SQLite) each chunk. Customers erased
after the job's tombstone watermark are left out, as every results write does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, delete

from tailorcrm.store.tables import NeedScore, RecommendationList, utcnow
from tailorcrm.store.tombstones import TombstoneRepository, lock_erasures

CHUNK_ROWS = 20_000


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterable[list[Mapping[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _write(conn: Connection, table: str, columns: tuple[str, ...],
           records: list[tuple[Any, ...]]) -> None:
    dbapi: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with dbapi.cursor() as cur, cur.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
        return
    marks = ", ".join("?" for _ in columns)
    dbapi.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", records)


class BulkResults:
    """Chunked, one-transaction replacement of a strategy's lists or a need's scores."""

    def __init__(self, engine: Engine, tombstones: TombstoneRepository) -> None:
        self._engine = engine
        self._tombstones = tombstones

    def _replace(self, tid: int, clear: Any, table: str, columns: tuple[str, ...],
                 rows: Iterable[Mapping[str, Any]],
                 record: Callable[[Mapping[str, Any], Any], tuple[Any, ...]],
                 erased_after: int | None, chunk_rows: int) -> int:
        hasher = None if erased_after is None else self._tombstones.hasher(tid)
        stored = 0
        with self._engine.begin() as conn:
            sqlite = conn.dialect.name == "sqlite"
            now: Any = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else utcnow()
            lock_erasures(conn, tid)
            conn.execute(clear)  # the first write: no erasure commits between here and the end
            erased = set() if erased_after is None else \
                self._tombstones.erased_after(conn, tid, erased_after)
            for chunk in _chunks(rows, chunk_rows):
                kept = [r for r in chunk if not erased or hasher is None
                        or hasher(str(r["customer_id"])) not in erased]
                if kept:
                    _write(conn, table, columns, [record(r, now) for r in kept])
                stored += len(kept)
        return stored

    def replace_lists(self, tid: int, strategy: str, rows: Iterable[Mapping[str, Any]], *,
                      erased_after: int | None = None, chunk_rows: int = CHUNK_ROWS) -> int:
        """As :meth:`RecommendationRepository.replace` (rows: customer_id, items,
        model_version, config_hash), streamed in chunks; returns the lists stored."""
        columns = ("tenant_id", "strategy", "customer_id", "items", "model_version",
                   "config_hash", "created_at")

        def record(r: Mapping[str, Any], now: Any) -> tuple[Any, ...]:
            return (tid, strategy, str(r["customer_id"]), json.dumps(list(r["items"])),
                    str(r["model_version"]), str(r["config_hash"]), now)

        clear = delete(RecommendationList).where(RecommendationList.tenant_id == tid,
                                                 RecommendationList.strategy == strategy)
        return self._replace(tid, clear, "recommendation_lists", columns, rows, record,
                             erased_after, chunk_rows)

    def replace_need_scores(self, tid: int, need: str, rows: Iterable[Mapping[str, Any]], *,
                            erased_after: int | None = None,
                            chunk_rows: int = CHUNK_ROWS) -> int:
        """As :meth:`NeedScoreRepository.replace` (rows: customer_id, score, model_version,
        reasons), streamed in chunks; returns the scores stored."""
        columns = ("tenant_id", "need", "customer_id", "score", "model_version", "reasons",
                   "scored_at")

        def record(r: Mapping[str, Any], now: Any) -> tuple[Any, ...]:
            return (tid, need, str(r["customer_id"]), float(r["score"]),
                    str(r.get("model_version") or ""), json.dumps(list(r.get("reasons") or [])),
                    now)

        clear = delete(NeedScore).where(NeedScore.tenant_id == tid, NeedScore.need == need)
        return self._replace(tid, clear, "need_scores", columns, rows, record, erased_after,
                             chunk_rows)
