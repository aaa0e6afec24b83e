"""Engine creation: SQLite tuned for many processes on one file, any other SQLAlchemy URL as is."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from sqlalchemy.pool import PoolProxiedConnection

    from signoff.config import DatabaseSettings


def build_engine(url: str, *, pool: DatabaseSettings | None = None, **kwargs: Any) -> Engine:
    """An engine for `url`; `pool` sizes its connection pool (`[database]`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if pool is not None and not in_memory:  # an in-memory database is one connection (SingletonThreadPool)
        kwargs = {"pool_size": pool.pool_size, "max_overflow": pool.max_overflow,
                  "pool_timeout": pool.pool_timeout, "pool_recycle": pool.pool_recycle, **kwargs}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    gate = _WriterGate(engine)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front: a deferred transaction that reads then writes can
        # fail with SQLITE_BUSY instead of waiting, and version numbering reads then writes.
        # Read-only work (READ_ONLY below) begins DEFERRED: WAL readers never wait for the
        # writer, so they must not queue behind it on the gate either.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "DEFERRED":
            conn.exec_driver_sql("BEGIN DEFERRED")
            return
        gate.enter(conn.connection)
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            gate.leave(conn.connection)
            raise


class _WriterGate:
    """One writing transaction at a time per process, queued in Python rather than by SQLite.

    SQLite lets one writer in; the others wait in its busy handler, which sleeps 1, 2, 5 … 100 ms
    between tries. Under concurrent requests that turns a 1 ms transaction into a tens-of-ms
    wait (p99 in seconds at 8 connections). Threads of one process therefore queue on a lock
    taken before ``BEGIN IMMEDIATE`` and released after the COMMIT or ROLLBACK has reached the
    file; only writers in other processes still meet the busy handler. Re-entrant, so a thread
    that nests a second writer fails on SQLite's timeout exactly as before instead of hanging.
    """

    def __init__(self, engine: Engine) -> None:
        self.lock = threading.RLock()
        self.holders: dict[int, int] = {}  # id(driver connection) -> times it entered
        dialect = engine.dialect
        do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

        def commit(dbapi_conn: PoolProxiedConnection) -> None:
            try:
                do_commit(dbapi_conn)
            finally:
                self.leave(dbapi_conn)

        def rollback(dbapi_conn: PoolProxiedConnection) -> None:
            try:
                do_rollback(dbapi_conn)
            finally:
                self.leave(dbapi_conn)

        # The dialect has no after-commit hook; these wrap its own methods on this engine only.
        dialect.do_commit = commit  # type: ignore[method-assign, assignment]  # an instance's bound method, replaced
        dialect.do_rollback = rollback  # type: ignore[method-assign, assignment]  # an instance's bound method, replaced
        for name in ("checkin", "close", "invalidate", "soft_invalidate"):
            event.listen(engine.pool, name, self._forget)

    def enter(self, conn: Any) -> None:
        self.lock.acquire()
        key = id(_raw(conn))
        self.holders[key] = self.holders.get(key, 0) + 1

    def leave(self, conn: Any) -> None:
        key = id(_raw(conn))
        held = self.holders.get(key, 0)
        if held:
            if held == 1:
                del self.holders[key]
            else:
                self.holders[key] = held - 1
            self.lock.release()

    def _forget(self, dbapi_conn: Any, *rest: Any) -> None:
        # A connection returned or dropped while still holding the gate (an error path).
        while self.holders.get(id(_raw(dbapi_conn)), 0):
            self.leave(dbapi_conn)


def _raw(conn: Any) -> Any:
    """The driver's connection behind SQLAlchemy's pool proxy (both reach do_commit)."""
    return getattr(conn, "dbapi_connection", None) or conn


# Execution options for a connection or session that only reads: on SQLite its transaction
# begins DEFERRED, outside the writer gate (a write in it would then fail, never wait).
READ_ONLY: dict[str, Any] = {"sqlite_begin": "DEFERRED"}


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
