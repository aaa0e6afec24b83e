"""AWS access keys for the SigV4 door (SSM and SageMaker APIs)

Revision ID: 0012_aws_keys
Revises: 0005_web
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_aws_keys"
down_revision = "0005_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aws_access_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("access_key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("access_key_id"),
    )
    with op.batch_alter_table("aws_access_keys", schema=None) as batch_op:
        batch_op.create_index("ix_aws_access_keys_user", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("aws_access_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_aws_access_keys_user")
    op.drop_table("aws_access_keys")
