"""Engine factory: one SQLAlchemy engine per URL, with SQLite tuned for a local data store."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from tailorcrm.errors import ConfigError

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# After a checkpoint resets the WAL, SQLite truncates the file to this size: without it a WAL
# that grew during a bulk import or training (readers can hold back checkpoints) keeps its
# peak size on disk forever (280 MB was seen).
SQLITE_JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Per-connection SQLite settings: WAL, enforced foreign keys, a busy wait, NORMAL sync,
    secure deletion."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}")
    # erasure: deleted rows are overwritten with zeros, not left in free pages (GDPR Art. 17)
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def checkpoint(engine: Engine) -> None:
    """Fold a SQLite WAL back into the database and truncate it (after bulk writes).

    A no-op on PostgreSQL. Readers still open keep what they need; SQLite then checkpoints
    what it can and the file shrinks at a later checkpoint (journal_size_limit).
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        dbapi: Any = conn.connection.driver_connection
        dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def normalize_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver; keep others."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    Raises
    ------
    ConfigError
        When the URL names a backend tailorcrm does not support.
    """
    url = normalize_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True)
    raise ConfigError(f"unsupported database backend {backend!r}: use sqlite or postgresql",
                      url=url)
