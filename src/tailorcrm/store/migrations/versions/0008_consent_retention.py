"""Consent per purpose: profiling beside personalization and marketing, the source of each
state, and an append-only history of consent changes.

``customers`` gains ``consent_profiling`` (+ ``_at``) and ``consent_<purpose>_source`` for the
three purposes (``api``, ``import``, ``cli``); ``consent_history`` keeps every change
(customer, purpose, value, source, at). Retention needs no schema: it is a tenant setting.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = ("personalization", "marketing", "profiling")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_profiling", sa.String(length=8),
                                      server_default="unknown", nullable=False))
        batch_op.add_column(sa.Column("consent_profiling_at", sa.DateTime(timezone=True),
                                      nullable=True))
        for purpose in PURPOSES:
            batch_op.add_column(sa.Column(f"consent_{purpose}_source", sa.String(length=16),
                                          nullable=True))
    op.create_table(
        "consent_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("consent_history", schema=None) as batch_op:
        batch_op.create_index("ix_consent_history_tenant_customer",
                              ["tenant_id", "customer_id", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("consent_history", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_history_tenant_customer")
    op.drop_table("consent_history")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        for purpose in reversed(PURPOSES):
            batch_op.drop_column(f"consent_{purpose}_source")
        batch_op.drop_column("consent_profiling_at")
        batch_op.drop_column("consent_profiling")
