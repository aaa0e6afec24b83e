"""MLflow bridge: version links, webhook delivery ids, aliases set by signoff

Revision ID: 0011_mlflow
Revises: 0005_web
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_mlflow"
down_revision = "0005_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mlflow_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mlflow_model", sa.String(length=256), nullable=False),
        sa.Column("mlflow_version", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mlflow_model", "mlflow_version", name="uq_mlflow_version"),
    )
    with op.batch_alter_table("mlflow_versions", schema=None) as batch_op:
        batch_op.create_index("ix_mlflow_versions_signoff", ["model_name", "version_number"], unique=False)
    op.create_table(
        "mlflow_webhook_deliveries",
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    with op.batch_alter_table("mlflow_webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_mlflow_deliveries_received", ["received_at"], unique=False)
    op.create_table(
        "mlflow_aliases",
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("env", sa.String(length=64), nullable=False),
        sa.Column("mlflow_model", sa.String(length=256), nullable=False),
        sa.Column("alias", sa.String(length=256), nullable=False),
        sa.Column("mlflow_version", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("model_name", "env"),
    )


def downgrade() -> None:
    op.drop_table("mlflow_aliases")
    with op.batch_alter_table("mlflow_webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_mlflow_deliveries_received")
    op.drop_table("mlflow_webhook_deliveries")
    with op.batch_alter_table("mlflow_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_mlflow_versions_signoff")
    op.drop_table("mlflow_versions")
