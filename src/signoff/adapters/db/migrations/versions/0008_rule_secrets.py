"""Secrets of rule targets stored apart from the targets everyone may read

Revision ID: 0008_rule_secrets
Revises: 0005_web, 0003_event_bus
Create Date: 2026-12-02
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from signoff.domain.rules import split_target

revision = "0008_rule_secrets"
# Also after 0003_event_bus, whose tables it alters (the branches meet only at 0001 so far).
down_revision = ("0005_web", "0003_event_bus")
branch_labels = None
depends_on = None

_RULES = sa.table("rules", sa.column("id", sa.Integer), sa.column("targets", sa.JSON),
                  sa.column("target_secrets", sa.JSON))
_DELIVERIES = sa.table("deliveries", sa.column("id", sa.BigInteger), sa.column("target", sa.JSON),
                       sa.column("target_secrets", sa.JSON))


def upgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_secrets", sa.JSON(), nullable=True))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_secrets", sa.JSON(), nullable=True))
    conn = op.get_bind()
    # Move the secrets out of what was stored so far; the pending deliveries keep theirs.
    for row in conn.execute(sa.select(_RULES.c.id, _RULES.c.targets)).all():
        pairs = [split_target(t) for t in row.targets or []]
        if any(secrets for _, secrets in pairs):
            conn.execute(_RULES.update().where(_RULES.c.id == row.id).values(
                targets=[p for p, _ in pairs], target_secrets=[s for _, s in pairs]))
    for row in conn.execute(sa.select(_DELIVERIES.c.id, _DELIVERIES.c.target)).all():
        public, secrets = split_target(dict(row.target or {}))
        if secrets:
            conn.execute(_DELIVERIES.update().where(_DELIVERIES.c.id == row.id).values(
                target=public, target_secrets=secrets))


def downgrade() -> None:
    conn = op.get_bind()
    for table, column in ((_RULES, "targets"), (_DELIVERIES, "target")):
        for row in conn.execute(sa.select(table.c.id, table.c[column], table.c.target_secrets)
                                .where(table.c.target_secrets.is_not(None))).all():
            conn.execute(table.update().where(table.c.id == row.id).values({column: _joined(row[1], row[2])}))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("target_secrets")
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_column("target_secrets")


def _joined(public: Any, secrets: Any) -> Any:
    from signoff.domain.rules import join_target

    if isinstance(public, list):
        return [join_target(p, s) for p, s in zip(public, secrets or [], strict=False)]
    return join_target(public, secrets)
