"""Prepared statements (adapters/db/prepared.py) run inside the session's transaction, with the
columns' own conversions, on SQLite and (in the PostgreSQL pass) on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from signoff.adapters.db.prepared import Prepared
from signoff.adapters.db.tables import AuditRow, ModelRow, OutboxRow, VersionRow
from signoff.bootstrap import Context

_OUTBOX = Prepared(insert(OutboxRow.__table__), ("event_id", "type", "subject", "time", "payload", "dispatched_at"))
_OUTBOX_IDS = Prepared(select(OutboxRow.id).where(OutboxRow.subject == bindparam("subject")).order_by(OutboxRow.id))
_NEWEST = Prepared(select(OutboxRow.event_id).order_by(OutboxRow.id.desc()).limit(1))


def event(n: int, at: datetime) -> dict[str, object]:
    return {"event_id": f"e-{n}", "type": "t.test", "subject": "s/prepared", "time": at,
            "payload": {"n": n, "nested": {"list": [1, "two", None]}}, "dispatched_at": None}


def subjects(ctx: Context) -> list[str]:
    """What another connection sees (a reader: on SQLite it must not queue behind the writer)."""
    with ctx.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        stmt = select(OutboxRow.event_id).where(OutboxRow.subject == "s/prepared").order_by(OutboxRow.id)
        return list(conn.scalars(stmt))


def test_values_are_converted_as_the_orm_would_and_read_back_the_same(ctx: Context) -> None:
    at = datetime(2026, 11, 25, 13, 30, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
    with Session(ctx.engine) as s:
        _OUTBOX.execute_many(s, [event(1, at), event(2, at)])
        s.commit()
    with Session(ctx.engine) as s:
        rows = list(s.scalars(select(OutboxRow).where(OutboxRow.subject == "s/prepared").order_by(OutboxRow.id)))
    assert [r.payload for r in rows] == [{"n": 1, "nested": {"list": [1, "two", None]}},
                                         {"n": 2, "nested": {"list": [1, "two", None]}}]
    assert rows[0].time == at.astimezone(UTC) and rows[0].time.tzinfo is not None  # UTCDateTime's own conversion
    with Session(ctx.engine) as s:
        assert _NEWEST.scalar(s) == "e-2"  # `.limit(1)`: a value the statement carries itself
        assert [r[0] for r in _OUTBOX_IDS.all(s, {"subject": "s/prepared"})] == [r.id for r in rows]


def test_they_belong_to_the_sessions_transaction(ctx: Context) -> None:
    now = datetime.now(UTC)
    with Session(ctx.engine) as s:
        _OUTBOX.execute_many(s, [event(1, now)])
        s.rollback()  # undone with the session's transaction
        _OUTBOX.execute_many(s, [event(2, now)])  # a new transaction, maybe another connection
        s.commit()
        _OUTBOX.execute_many(s, [event(3, now)])
        assert _NEWEST.scalar(s) == "e-3"  # seen inside the transaction…
        assert subjects(ctx) == ["e-2"]  # …and not outside it before the commit
        s.rollback()
    assert subjects(ctx) == ["e-2"]


def test_orm_changes_flushed_before_are_visible_to_them(ctx: Context, clock: object) -> None:
    with Session(ctx.engine) as s:
        s.add(ModelRow(name="prepared-model", description="", latest_version=0, created_at=datetime.now(UTC),
                       created_by="t"))
        s.flush()
        ref = Prepared(select(ModelRow.id, ModelRow.name).where(ModelRow.name == bindparam("name")))
        row = ref.first(s, {"name": "prepared-model"})
        assert row is not None and row[1] == "prepared-model"
        s.rollback()


def test_statements_that_would_need_sqlalchemys_execution_machinery_are_refused(ctx: Context) -> None:
    # VersionRow.meta has a Python-side default: an INSERT leaving it out needs SQLAlchemy to fill it.
    missing_default = Prepared(insert(VersionRow.__table__), ("model_id", "number", "artifact_uri", "registered_by",
                                                             "registered_at"))
    # UTCDateTime converts what it reads; Prepared hands back what the driver returns.
    converted_result = Prepared(select(AuditRow.at).limit(1))
    with Session(ctx.engine) as s:
        with pytest.raises(ValueError, match="every column"):
            missing_default.execute(s, {"model_id": 1, "number": 1, "artifact_uri": "x", "registered_by": "t",
                                        "registered_at": datetime.now(UTC)})
        with pytest.raises(ValueError, match="unconverted"):
            converted_result.scalar(s)
        s.rollback()
