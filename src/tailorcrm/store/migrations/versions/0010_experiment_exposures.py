"""Experiment exposures: which variant of which experiment a customer was shown, and when.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "experiment_exposures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("experiment", sa.String(length=100), nullable=False),
        sa.Column("variant", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consented", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("experiment_exposures", schema=None) as batch_op:
        batch_op.create_index("ix_exposures_tenant_experiment_ts",
                              ["tenant_id", "experiment", "ts"], unique=False)
        batch_op.create_index("ix_exposures_tenant_customer", ["tenant_id", "customer_id"],
                              unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("experiment_exposures", schema=None) as batch_op:
        batch_op.drop_index("ix_exposures_tenant_customer")
        batch_op.drop_index("ix_exposures_tenant_experiment_ts")
    op.drop_table("experiment_exposures")
