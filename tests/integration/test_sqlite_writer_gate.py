"""The SQLite writer gate (adapters/db/engine.py): threads of one process queue for the write
lock in Python instead of in SQLite's sleeping busy handler. What must hold is that the gate
never leaks: every way a writing transaction can end lets the next writer in, and concurrent
writers still get gapless version numbers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from signoff.adapters.db.engine import build_engine
from signoff.bootstrap import Context, bootstrap
from signoff.errors import InvalidInput
from signoff.services import registry
from tests.conftest import make_settings

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def sqlite_ctx(tmp_path: Path) -> Iterator[Context]:
    settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'gate.db'}")
    ctx = bootstrap(settings)
    yield ctx
    ctx.close()


def _write_in_thread(ctx: Context, model: str, timeout: float = 20.0) -> None:
    """Register one version from another thread; fail if it cannot get in within `timeout`."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            registry.register(uow=ctx.uow(), workflow=ctx.workflow, model=model, artifact_uri="s3://b/m.pkl",
                              actor="dana")
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), "a writer in another thread is still waiting: the gate was not released"
    assert not errors, errors


class TestTheGateIsReleased:
    def test_after_a_commit(self, sqlite_ctx: Context) -> None:
        registry.register(uow=sqlite_ctx.uow(), workflow=sqlite_ctx.workflow, model="a", artifact_uri="s3://x",
                          actor="dana")
        _write_in_thread(sqlite_ctx, "a")

    def test_after_a_use_case_fails_inside_its_transaction(self, sqlite_ctx: Context) -> None:
        uow = sqlite_ctx.uow()
        with pytest.raises(InvalidInput), uow:
            uow.session.execute(text("SELECT 1"))  # the transaction (and the gate) is taken
            raise InvalidInput("refused half-way")
        _write_in_thread(sqlite_ctx, "b")

    def test_after_a_connection_is_invalidated_mid_transaction(self, sqlite_ctx: Context) -> None:
        conn = sqlite_ctx.engine.connect()
        conn.begin()
        conn.execute(text("SELECT 1"))
        conn.invalidate()  # e.g. the driver reported a broken connection
        conn.close()
        _write_in_thread(sqlite_ctx, "c")

    def test_readers_in_deferred_mode_do_not_take_it(self, sqlite_ctx: Context) -> None:
        with sqlite_ctx.engine.connect().execution_options(sqlite_begin="DEFERRED") as reader:
            reader.begin()
            reader.execute(text("SELECT count(*) FROM models")).scalar_one()
            _write_in_thread(sqlite_ctx, "d")  # a long read never holds writers back


class TestConcurrentWritersInOneProcess:
    def test_eight_threads_get_gapless_version_numbers(self, sqlite_ctx: Context) -> None:
        def register_many() -> None:
            for _ in range(15):
                registry.register(uow=sqlite_ctx.uow(), workflow=sqlite_ctx.workflow, model="busy",
                                  artifact_uri="s3://b/m.pkl", actor="dana")

        threads = [threading.Thread(target=register_many) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        numbers = [v.number for v in registry.list_versions(uow=sqlite_ctx.uow(), workflow=sqlite_ctx.workflow,
                                                            model="busy", limit=500)]
        assert sorted(numbers) == list(range(1, 121))

    def test_two_engines_on_one_file_still_wait_for_each_other(self, tmp_path: Path) -> None:
        # Each engine has its own gate; across engines (or processes) SQLite's lock still rules.
        url = f"sqlite:///{tmp_path / 'two.db'}"
        first, second = build_engine(url), build_engine(url)
        try:
            with first.begin() as conn:
                conn.execute(text("CREATE TABLE t (n INTEGER)"))
            holder = first.connect()
            holder.begin()
            holder.execute(text("INSERT INTO t VALUES (1)"))
            done = threading.Event()

            def other_engine() -> None:
                with second.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (2)"))
                done.set()

            worker = threading.Thread(target=other_engine)
            worker.start()
            assert not done.wait(0.3), "the second engine wrote while the first held SQLite's write lock"
            holder.commit()
            holder.close()
            worker.join(20)
            assert done.is_set()
            with first.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
        finally:
            first.dispose()
            second.dispose()
