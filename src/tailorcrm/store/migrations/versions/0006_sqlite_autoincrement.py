"""Row ids of events and precomputed lists are never reused on SQLite (AUTOINCREMENT).

The serving change feed reads "rows with an id above the last one seen"; SQLite's default
rowid picks max(rowid) + 1, which hands the id of a deleted newest row to the next insert, so
the feed could miss it. PostgreSQL sequences never go back: nothing to do there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("events", "recommendation_lists")


def upgrade() -> None:
    """Apply this revision (SQLite: rebuild both tables with AUTOINCREMENT ids)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": False}):
            pass
