"""Migration 0008 moves the secrets of stored targets out of what anyone may read, and back on downgrade."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, insert, select, table

from signoff.adapters.db import migrate
from signoff.adapters.db.engine import build_engine
from signoff.adapters.db.tables import RuleRow
from signoff.services.rules import rule_from_row
from tests.conftest import on_postgres

BEFORE = ("0002_tokens", "0003_event_bus", "0004_inference", "0005_web")
HOOK = {"type": "webhook", "url": "https://deploy:pw-1@example.com/h?token=tok-2", "timeout": 10.0,
        "headers": {"Authorization": "Bearer hdr-3"}, "secret": "hmac-4"}
PLAIN = {"type": "request_approval"}
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def empty_database(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if on_postgres():
        return str(request.getfixturevalue("postgres_server").create_database())
    return f"sqlite:///{tmp_path / 'old.db'}"


def test_upgrading_moves_secrets_apart_and_downgrading_puts_them_back(empty_database: str) -> None:
    engine = build_engine(empty_database)
    try:
        for revision in BEFORE:
            migrate.upgrade(engine, revision)
        rule: dict[str, Any] = {"name": "deploy", "description": "", "enabled": True, "pattern": {"type": ["x"]},
                                "source": "api", "revision": 1, "created_at": NOW, "created_by": "olga",
                                "updated_at": NOW, "updated_by": "olga"}
        t = RuleRow.__table__
        before_0008 = table("rules", *(column(c.name, c.type) for c in t.c if c.name not in ("id", "target_secrets")))
        with engine.begin() as conn:
            conn.execute(insert(before_0008).values(**rule, targets=[HOOK, PLAIN]))
        migrate.upgrade(engine)
        with engine.connect() as conn:
            targets, secrets = conn.execute(select(t.c.targets, t.c.target_secrets)).one()
        assert targets == [{**HOOK, "url": "https://deploy:***@example.com/h?token=***",
                            "headers": {"Authorization": "***"}, "secret": "***"}, PLAIN]
        assert secrets == [{"secret": "hmac-4", "headers": {"Authorization": "Bearer hdr-3"}, "url": HOOK["url"]}, {}]
        row = RuleRow(name="deploy", description="", enabled=True, pattern={"type": ["x"]}, targets=targets,
                      target_secrets=secrets)
        assert rule_from_row(row).model_dump(mode="json", exclude_none=True)["targets"][0] == {
            **HOOK, "headers_env": {}, "format": "cloudevents"}
        # Alembic cannot walk one step down from a merge point, so the revision's downgrade runs alone.
        revision = importlib.import_module("signoff.adapters.db.migrations.versions.0008_rule_secrets")
        with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            revision.downgrade()
        with engine.connect() as conn:
            assert conn.execute(select(t.c.targets)).scalar_one() == [HOOK, PLAIN]
    finally:
        engine.dispose()

