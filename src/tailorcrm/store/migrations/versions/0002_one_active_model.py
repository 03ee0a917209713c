"""One active model version per (tenant, name): a partial unique index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("uq_model_versions_active", "model_versions", ["tenant_id", "name"],
                    unique=True, sqlite_where=sa.text("active"),
                    postgresql_where=sa.text("active"))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_model_versions_active", table_name="model_versions")
