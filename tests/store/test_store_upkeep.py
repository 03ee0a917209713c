"""Store upkeep: the SQLite WAL stays bounded, and an import that died unfinished is marked
failed at the next start instead of staying open forever."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text, update

from tailorcrm.ingest.service import run_import
from tailorcrm.store import Store
from tailorcrm.store.engine import SQLITE_JOURNAL_SIZE_LIMIT
from tailorcrm.store.tables import ImportRun


def test_sqlite_connections_bound_the_wal_and_imports_truncate_it(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    store = Store.open(f"sqlite:///{db}")
    try:
        with store.engine.connect() as conn:
            limit = conn.execute(text("PRAGMA journal_size_limit")).scalar_one()
        assert limit == SQLITE_JOURNAL_SIZE_LIMIT
        tid = store.tenants.ensure("t")
        csv = tmp_path / "events.csv"
        lines = ["customer_id,item_id,type,timestamp"]
        lines += [f"c{i % 500},i{i % 97},purchase,2025-01-{1 + i % 28:02d}T10:00:00Z"
                  for i in range(60_000)]
        csv.write_text("\n".join(lines) + "\n")
        result = run_import(store, tid, "events", csv)
        assert result.report.rows_loaded == 60_000
        wal = Path(f"{db}-wal")
        assert not wal.exists() or wal.stat().st_size < 1_000_000, wal.stat().st_size
    finally:
        store.close()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_an_import_killed_midway_is_marked_failed_at_the_next_start(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        tid = store.tenants.ensure("t")
        killed = store.imports.start(tid, "events", "orders.csv")
        running = store.imports.start(tid, "events", "other.csv")  # this process: alive
        # the first run's process died without finishing (kill -9, power loss)
        with store.engine.begin() as conn:
            row = conn.execute(ImportRun.__table__.select().where(
                ImportRun.id == killed)).mappings().one()
            report = {**row["report"], "pid": _dead_pid()}
            conn.execute(update(ImportRun).where(ImportRun.id == killed).values(report=report))
        assert store.imports.get(tid, killed).finished_at is None
        store.imports.start(tid, "customers", "next.csv")
        ended = store.imports.get(tid, killed)
        assert ended.finished_at is not None
        assert ended.report["status"] == "failed" and "interrupted" in ended.report["error"]
        assert store.imports.get(tid, running).finished_at is None
    finally:
        store.close()
