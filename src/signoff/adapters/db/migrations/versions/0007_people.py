"""People: disabled and deleted accounts, and the sign-in throttle's counters

Revision ID: 0007_people
Revises: 0005_web
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_people"
down_revision = "0005_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_reason", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
    op.create_table(
        "signin_counters",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("signin_counters", schema=None) as batch_op:
        batch_op.create_index("ix_signin_counters_expires", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signin_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_signin_counters_expires")
    op.drop_table("signin_counters")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("disabled_reason")
