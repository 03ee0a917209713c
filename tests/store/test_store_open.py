"""Opening a store: migrations to head, tenant creation with its catalog, an empty data set."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tailorcrm.errors import ConfigError, StorageError
from tailorcrm.schema.event_types import DEFAULT_EVENT_TYPES
from tailorcrm.store import Store
from tailorcrm.store.engine import normalize_url
from tailorcrm.store.migrate import current_revision, head_revision


def test_open_migrates_to_head_and_twice_is_harmless(database_url: str) -> None:
    with Store.open(database_url) as store:
        assert current_revision(store.engine) == head_revision()
        tid = store.tenants.ensure("acme")
    with Store.open(database_url) as store:
        assert current_revision(store.engine) == head_revision()
        assert store.tenants.ensure("acme") == tid
        tables = set(inspect(store.engine).get_table_names())
    assert {"tenants", "customers", "items", "events", "model_versions"} <= tables


def test_ensure_seeds_default_event_types(database_url: str) -> None:
    with Store.open(database_url) as store:
        tid = store.tenants.ensure("acme")
        assert store.event_types.list(tid) == list(DEFAULT_EVENT_TYPES)
        other = store.tenants.ensure("other")
        assert other != tid
        assert [t.slug for t in store.tenants.list()] == ["acme", "other"]


def test_empty_tenant_loads_an_empty_dataset(database_url: str) -> None:
    with Store.open(database_url) as store:
        data = store.load_dataset(store.tenants.ensure("acme"))
    assert len(data.customers) == 0 and len(data.items) == 0 and len(data.events) == 0
    assert str(data.events["ts"].dtype) == "datetime64[ns, UTC]"


def test_sqlite_connections_use_wal_and_foreign_keys(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_bad_urls_raise_taxonomy_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Store.open("mysql://localhost/x")
    with pytest.raises(StorageError):
        Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StorageError):
        Store.open(f"sqlite:///{tmp_path}/missing/dir/x.db")
    assert normalize_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"


def test_processes_opening_a_fresh_database_together(database_url: str) -> None:
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("fork")) as pool:
        revisions = list(pool.map(_open_revision, [database_url] * 3))
    assert revisions == [head_revision()] * 3
    with ThreadPoolExecutor(3) as threads:
        assert list(threads.map(_open_revision, [database_url] * 3)) == revisions


def _open_revision(url: str) -> str | None:
    with Store.open(url) as store:
        return current_revision(store.engine)


def test_the_shipped_head_constant_is_alembics_head() -> None:
    from tailorcrm.store.migrate import SHIPPED_HEAD

    assert head_revision() == SHIPPED_HEAD, "update SHIPPED_HEAD with the new migration"


def test_opening_an_up_to_date_database_does_not_import_alembic(sqlite_url: str) -> None:
    import subprocess
    import sys

    Store.open(sqlite_url).close()  # migrated once
    code = ("import sys\nfrom tailorcrm.store import Store\n"
            f"Store.open({sqlite_url!r}).close()\n"
            "print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
