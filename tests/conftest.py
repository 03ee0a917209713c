"""Shared fixtures: the real data sets, a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path | None:
    env = os.environ.get("TAILORCRM_DATA_DIR")
    if env:
        return Path(env)
    candidate = ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder of the public data sets; tests that need it skip when it is absent."""
    path = _data_dir()
    if path is None or not path.is_dir():
        pytest.skip("public data sets not found (set TAILORCRM_DATA_DIR)")
    return path


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'tailorcrm.db'}"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("TAILORCRM_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("TAILORCRM_REQUIRE_POSTGRES") == "1":
            pytest.fail("TAILORCRM_REQUIRE_POSTGRES=1 but TAILORCRM_TEST_POSTGRES_URL is unset")
        return None
    return url


@contextmanager
def _fresh_postgres() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards (skip or fail without one)."""
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("no PostgreSQL server (set TAILORCRM_TEST_POSTGRES_URL)")
    name = f"t_{uuid.uuid4().hex[:16]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the server
        if os.environ.get("TAILORCRM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield url
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    with _fresh_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def postgres_module_url() -> Iterator[str]:
    """:func:`postgres_url` shared by one test module (for costly fixtures)."""
    with _fresh_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh database of each backend in turn: every store contract runs on both."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))
