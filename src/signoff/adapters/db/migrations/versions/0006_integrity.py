"""Evidence frozen with each decision, labelled request evidence, auto-approval refusals

Revision ID: 0006_integrity
Revises: 0005_web
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_integrity"
down_revision = "0005_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_source", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("auto_blocked", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_column("auto_blocked")
        batch_op.drop_column("evidence_source")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("evidence")
