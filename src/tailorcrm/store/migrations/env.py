"""Alembic environment: migrates the connection tailorcrm hands over, or a URL from ``-x url=``."""

from __future__ import annotations

from alembic import context

from tailorcrm.store.engine import make_engine
from tailorcrm.store.migrate import include_object
from tailorcrm.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite ALTERs go through table copies
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run against ``config.attributes['connection']`` or a fresh engine for ``-x url=``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url")
    if not url:
        raise SystemExit("give the database with: alembic -x url=URL upgrade head")
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


run_online()
