"""Deliveries indexed by (state, target_type, event_time) for /metrics

`/metrics` counts deliveries by state and target type and reads the oldest undelivered event's
time; with this index both are index-only, so the counts no longer read every delivery row.

Revision ID: 0013_ops
Revises: 0005_web, 0003_event_bus
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op

revision = "0013_ops"
# Also after 0003_event_bus, which creates the deliveries table (a merge point until the
# migrations are chained in one line).
down_revision = ("0005_web", "0003_event_bus")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_state_type", ["state", "target_type", "event_time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_state_type")
