"""artifact mismatch reports, one row per (version, observed digest)

Revision ID: 0009_hardening
Revises: 0005_web
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_hardening"
down_revision = "0005_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifact_mismatches",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("first_by", sa.String(length=128), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("version_id", "digest"),
    )


def downgrade() -> None:
    op.drop_table("artifact_mismatches")
