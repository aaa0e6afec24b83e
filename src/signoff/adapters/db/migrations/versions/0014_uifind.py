"""Indexes for the web UI's searches: audit entries by actor, action and time; versions by
registrant; stages by (environment, status); requests by decision time

The audit browser, "my submissions" and the requests list filter and count among 100,000s of
rows on every page; without these each page read every row (300-800 ms at 110,000 audit
entries and 100,000 versions on SQLite, 3-40 ms with them).

Revision ID: 0014_uifind
Revises: 0013_ops
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op

revision = "0014_uifind"
down_revision = "0013_ops"
branch_labels = None
depends_on = None

INDEXES = [
    ("audit_log", "ix_audit_actor", ["actor", "id"]),
    ("audit_log", "ix_audit_action", ["action", "id"]),
    ("audit_log", "ix_audit_at", ["at"]),
    # The ids alone, in order: a deep page (OFFSET 50,000) walks this narrow index instead of
    # the table's rows with their JSON (0.6 ms instead of 50 ms on SQLite).
    ("audit_log", "ix_audit_id", ["id"]),
    ("model_versions", "ix_versions_registrant", ["registered_by", "id"]),
    ("version_stages", "ix_stages_env_status", ["env", "status", "version_id"]),
    ("approval_requests", "ix_requests_decided", ["decided_at"]),
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
