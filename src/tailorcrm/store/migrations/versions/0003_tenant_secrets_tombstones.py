"""Per-tenant secrets (signed recommendation ids, hashed erasures) and customer tombstones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision: a secret for every existing tenant, an empty tombstone table."""
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    tenants = sa.table("tenants", sa.column("id", sa.Integer), sa.column("secret", sa.String))
    for (tid,) in conn.execute(sa.select(tenants.c.id)).all():
        conn.execute(tenants.update().where(tenants.c.id == tid).values(
            secret=secrets.token_hex(32)))
    op.create_table(
        "customer_tombstones",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("customer_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customer_tombstones", schema=None) as batch_op:
        batch_op.create_index("ix_tombstones_tenant_hash", ["tenant_id", "customer_hash"],
                              unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("customer_tombstones", schema=None) as batch_op:
        batch_op.drop_index("ix_tombstones_tenant_hash")
    op.drop_table("customer_tombstones")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("secret")
