"""`[database]` pool settings reach the engine, and read-only units of work on SQLite begin
DEFERRED: a read in one thread answers while another thread of the process holds the writer gate."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from signoff.bootstrap import Context, bootstrap
from signoff.config import load_settings
from signoff.errors import InvalidInput
from signoff.services import queries, registry
from tests.conftest import make_settings, on_postgres


class TestPoolSettings:
    def test_pool_size_and_overflow_come_from_the_database_section(self, tmp_path: Path, database_url: str) -> None:
        settings = make_settings(tmp_path, database_url=database_url,
                                 database={"pool_size": 3, "max_overflow": 2, "pool_timeout": 4})
        ctx = bootstrap(settings, migrate_schema=True)
        try:
            pool = ctx.engine.pool
            assert pool.size() == 3  # type: ignore[attr-defined]
            assert pool._max_overflow == 2  # type: ignore[attr-defined]
            assert pool.timeout() == 4  # type: ignore[attr-defined]
        finally:
            ctx.close()

    def test_the_pool_holds_no_more_than_size_plus_overflow(self, tmp_path: Path, database_url: str) -> None:
        settings = make_settings(tmp_path, database_url=database_url,
                                 database={"pool_size": 1, "max_overflow": 1, "pool_timeout": 0.2})
        ctx = bootstrap(settings, migrate_schema=True)
        try:
            first, second = ctx.engine.connect(), ctx.engine.connect()
            with pytest.raises(Exception, match="QueuePool limit of size 1 overflow 1"):
                ctx.engine.connect()
            first.close(), second.close()
        finally:
            ctx.close()

    def test_environment_variables_set_the_pool(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SIGNOFF_DATABASE__POOL_SIZE", "12")
        monkeypatch.setenv("SIGNOFF_DATABASE__MAX_OVERFLOW", "0")
        settings = load_settings(None)
        assert (settings.database.pool_size, settings.database.max_overflow) == (12, 0)

    def test_a_bad_pool_size_is_refused_with_its_key(self) -> None:
        with pytest.raises(InvalidInput, match="config key database.pool_size"):
            load_settings(None, database={"pool_size": 0})


@pytest.mark.sqlite_only
class TestReadsDoNotQueueBehindWriters:
    @pytest.fixture
    def sqlite_ctx(self, tmp_path: Path) -> Iterator[Context]:
        ctx = bootstrap(make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'reads.db'}"))
        registry.register(uow=ctx.uow(), workflow=ctx.workflow, model="churn", artifact_uri="s3://b/1",
                          actor="dana")
        yield ctx
        ctx.close()

    def test_a_read_answers_while_another_thread_holds_the_writer_gate(self, sqlite_ctx: Context) -> None:
        holding, release = threading.Event(), threading.Event()

        def writer() -> None:
            with sqlite_ctx.uow() as uow:
                uow.session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the gate and the write lock
                holding.set()
                release.wait(10)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            assert holding.wait(10)
            answered: list[object] = []
            reader = threading.Thread(target=lambda: answered.append(
                queries.board(uow=sqlite_ctx.read_uow(), workflow=sqlite_ctx.workflow, model="churn")))
            started = time.monotonic()
            reader.start()
            reader.join(5)
            waited = time.monotonic() - started
            assert answered and len(answered[0]) == 1, "the read waited for the writer to finish"  # type: ignore[arg-type]
            assert waited < 2
        finally:
            release.set()
            thread.join(10)

    def test_a_read_only_unit_of_work_refuses_to_commit(self, sqlite_ctx: Context) -> None:
        with pytest.raises(RuntimeError, match="read-only"), sqlite_ctx.read_uow() as uow:
            uow.commit()


def test_reads_through_read_only_units_of_work_see_committed_writes(ctx: Context) -> None:
    registry.register(uow=ctx.uow(), workflow=ctx.workflow, model="m1", artifact_uri="s3://b/1", actor="dana")
    assert [v.number for v in queries.board(uow=ctx.read_uow(), workflow=ctx.workflow, model="m1")] == [1]
    assert on_postgres() == (ctx.engine.dialect.name == "postgresql")
