"""Schema migrations: run the packaged Alembic revisions up to head, programmatically."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

if TYPE_CHECKING:  # Alembic loads only when a database needs migrating (or is inspected)
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SHIPPED_HEAD = "0010"
"""The newest revision in ``migrations/versions`` (a test checks it against Alembic's view):
opening an up-to-date database compares with it and never imports Alembic."""
MIGRATION_LOCK_KEY = 0x7A11C0  # pg_advisory_xact_lock key held while migrating
# Alembic's command API keeps module-global state, so one thread per process migrates at a time.
_THREAD_LOCK = threading.Lock()


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Alembic filter: leave the per-field expression indexes (``ix_cf_*``, made at run time)
    out of autogenerate comparisons."""
    return not (type_ == "index" and name is not None and name.startswith("ix_cf_"))


def alembic_config() -> Config:
    """The Alembic config of the packaged migrations (no ini file needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this version of tailorcrm."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _stored_revision(engine: Engine) -> str | None:
    """``alembic_version.version_num`` by plain SQL (None when the table is absent)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision``; a no-op when it is there already.

    Safe when several processes open a fresh database at once (API workers starting together):
    PostgreSQL serialises them with an advisory lock; on SQLite a loser of the race waits for the
    winner and accepts its result.

    Returns the revision the database is at afterwards.
    """
    if revision == "head" and _stored_revision(engine) == SHIPPED_HEAD:
        return SHIPPED_HEAD  # the common case: one query, no Alembic
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    head = head_revision()
    if revision == "head" and current_revision(engine) == head:
        return head
    cfg = alembic_config()
    try:
        with _THREAD_LOCK, engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                if revision == "head" and MigrationContext.configure(
                        conn).get_current_revision() == head:
                    return head
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except DBAPIError:
        if revision != "head" or engine.dialect.name != "sqlite":
            raise
        for _ in range(50):  # another process is migrating this SQLite file
            time.sleep(0.1)
            if current_revision(engine) == head:
                return head
        raise
    now = current_revision(engine)
    log.info("database migrated to revision %s", now)
    return now
