"""Migration 0016 on PostgreSQL: the counts start from the rows already there, and follow every
write after; on SQLite it changes nothing (the collector counts the rows there)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, func, insert, inspect, select, text, update
from tests.conftest import on_postgres

from signoff.adapters.db import migrate
from signoff.adapters.db.engine import build_engine
from signoff.adapters.db.tables import DeliveryAttemptRow, DeliveryRow, OutboxRow

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def empty_database(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if on_postgres():
        return str(request.getfixturevalue("postgres_server").create_database())
    return f"sqlite:///{tmp_path / 'old.db'}"


def _delivery(i: int, state: str, target_type: str) -> dict[str, object]:
    return {"id": i, "idempotency_key": f"k-{i}", "event_seq": 1, "event_id": "ev-1", "event_type": "t",
            "event_time": NOW, "rule_name": "r", "target_index": 0, "target_type": target_type, "target": {},
            "state": state, "attempts": 1, "replays": 0, "next_attempt_at": NOW, "created_at": NOW,
            "updated_at": NOW}


def _tallies(conn: object) -> dict[tuple[str, str, str], int]:
    rows = conn.execute(text(  # type: ignore[attr-defined]
        "SELECT kind, label, target_type, sum(n) FROM delivery_tallies GROUP BY 1, 2, 3 HAVING sum(n) <> 0"))
    return {(k, label, t): int(n) for k, label, t, n in rows}


def test_counts_start_from_the_rows_present_and_follow_later_writes(empty_database: str) -> None:
    engine = build_engine(empty_database)
    try:
        migrate.upgrade(engine, "0013_ops")
        with engine.begin() as conn:
            conn.execute(insert(OutboxRow.__table__).values(id=1, event_id="ev-1", type="t", subject="s", time=NOW,
                                                             payload={}, dispatched_at=NOW))
            conn.execute(insert(DeliveryRow.__table__), [
                _delivery(1, "succeeded", "webhook"), _delivery(2, "succeeded", "webhook"),
                _delivery(3, "dead", "email"), _delivery(4, "pending", "email")])
            conn.execute(insert(DeliveryAttemptRow.__table__), [
                {"id": i, "delivery_id": i, "number": 1, "worker": "w", "started_at": NOW, "duration_ms": 1.0,
                 "outcome": "final" if i == 3 else "ok"} for i in (1, 2, 3)])
        migrate.upgrade(engine)
        if not on_postgres():
            assert "delivery_tallies" not in inspect(engine).get_table_names()
            return
        with engine.begin() as conn:
            assert _tallies(conn) == {("delivery", "succeeded", "webhook"): 2, ("delivery", "dead", "email"): 1,
                                      ("delivery", "pending", "email"): 1, ("attempt", "ok", ""): 2,
                                      ("attempt", "final", ""): 1}
            conn.execute(update(DeliveryRow.__table__).where(DeliveryRow.__table__.c.id == 4).values(state="running"))
            conn.execute(insert(DeliveryAttemptRow.__table__).values(
                id=4, delivery_id=4, number=1, worker="w", started_at=NOW, duration_ms=1.0, outcome="ok"))
            conn.execute(delete(DeliveryAttemptRow.__table__).where(DeliveryAttemptRow.__table__.c.delivery_id == 1))
            conn.execute(delete(DeliveryRow.__table__).where(DeliveryRow.__table__.c.id == 1))
        with engine.begin() as conn:
            assert _tallies(conn) == {("delivery", "succeeded", "webhook"): 1, ("delivery", "dead", "email"): 1,
                                      ("delivery", "running", "email"): 1, ("attempt", "ok", ""): 2,
                                      ("attempt", "final", ""): 1}
            counted = conn.execute(select(func.count()).select_from(DeliveryRow.__table__)).scalar_one()
            assert sum(n for (kind, _, _), n in _tallies(conn).items() if kind == "delivery") == counted
        revision = importlib.import_module("signoff.adapters.db.migrations.versions.0016_delivery_tallies")
        with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            revision.downgrade()
        assert "delivery_tallies" not in inspect(engine).get_table_names()
        with engine.begin() as conn:  # the triggers went with it: writes work as before
            conn.execute(update(DeliveryRow.__table__).values(state="dead"))
    finally:
        engine.dispose()
