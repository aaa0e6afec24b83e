"""The databases a benchmark runs on: SQLite files, or databases on one PostgreSQL server.

`SIGNOFF_BENCH_DB` picks them (`make bench DB=...`): `all` (the default: SQLite, then
PostgreSQL), `sqlite` or `postgres`. PostgreSQL is the server at `SIGNOFF_BENCH_POSTGRES_URL`
when that is set (a superuser URL; the benchmarks create and drop their own databases on it),
else a throw-away cluster started from the Debian binaries on a loopback port by the launcher
the test suite's `postgres_server` fixture uses too (tests/fixtures/postgres.py).

The throw-away cluster keeps `fsync` on and sets `synchronous_commit = off`: a crash may lose
the last few commits but never corrupts the database, the same bargain as the SQLite engine's
WAL with `synchronous = NORMAL`, so the two are compared on equal terms.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.fixtures.postgres
from tests.fixtures.postgres import PostgresCluster, die_with_parent, pg_bindir  # noqa: E402

KINDS = {"sqlite": "sqlite", "postgres": "postgresql", "postgresql": "postgresql", "pg": "postgresql"}
PG_SETTINGS = {"synchronous_commit": "off", "max_connections": "200", "shared_buffers": "256MB"}


def selected() -> list[str]:
    """The database kinds to run on, from SIGNOFF_BENCH_DB (all | sqlite | postgres)."""
    raw = os.environ.get("SIGNOFF_BENCH_DB", "all").strip().lower() or "all"
    if raw in {"all", "both"}:
        return ["sqlite", "postgresql"]
    kinds = []
    for part in raw.split(","):
        if part.strip() not in KINDS:
            sys.exit(f"SIGNOFF_BENCH_DB={raw!r}: use all, sqlite or postgres")
        kinds.append(KINDS[part.strip()])
    return list(dict.fromkeys(kinds))


class PostgresServer(PostgresCluster):
    """The benchmarks' server: launched with PG_SETTINGS, or reached at SIGNOFF_BENCH_POSTGRES_URL
    (then the databases made here are dropped again by stop())."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._created: list[str] = []

    @classmethod
    def launch(cls, bindir: Path) -> PostgresServer:  # type: ignore[override]
        user = None
        if os.geteuid() == 0:  # initdb refuses to run as root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no `postgres` user to run PostgreSQL as") from None
        server: PostgresServer = super().launch(bindir, settings=PG_SETTINGS, user=user, prefix="signoff-bench-pg-",
                                                preexec_fn=die_with_parent(signal.SIGINT))
        return server

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def create_database(self, label: str) -> str:
        """A new database named after `label`; returns its SQLAlchemy URL. Dropped by stop()."""
        name = f"bench_{label}_{uuid.uuid4().hex[:8]}".replace("-", "_")
        url = super().create_database(name)
        self._created.append(name)
        return url

    def stop(self) -> None:
        if not self.launched:  # someone else's server: drop what we made on it
            import psycopg

            for name in self._created:
                with contextlib.suppress(psycopg.Error):
                    self.drop_database(name)
        super().stop()


class Database:
    """Hands out fresh databases of one kind: SQLite files under a directory, or PostgreSQL databases."""

    def __init__(self, kind: str, server: PostgresServer | None = None) -> None:
        self.kind, self.server = kind, server

    def fresh_url(self, home: Path, label: str) -> str:
        if self.server is None:
            return f"sqlite:///{home / label}.db"
        return self.server.create_database(label)

    def describe(self) -> dict[str, object]:
        if self.server is None:
            import sqlite3

            return {"kind": "sqlite", "version": sqlite3.sqlite_version, "journal_mode": "wal", "synchronous": "normal"}
        return {"kind": "postgresql", "version": self.server.version(),
                "settings": PG_SETTINGS if self.server.launched else "external (SIGNOFF_BENCH_POSTGRES_URL)"}


@contextlib.contextmanager
def open_database(kind: str) -> Iterator[Database]:
    """A Database of `kind`; for PostgreSQL the server is started (or reached) here and stopped after."""
    if kind == "sqlite":
        yield Database("sqlite")
        return
    url = os.environ.get("SIGNOFF_BENCH_POSTGRES_URL")
    if url:
        server = PostgresServer(url)
    else:
        bindir = pg_bindir()
        if bindir is None:
            raise Unavailable("PostgreSQL binaries (initdb, postgres) not found: apt-get install postgresql")
        server = PostgresServer.launch(bindir)
    try:
        yield Database("postgresql", server)
    finally:
        server.stop()


class Unavailable(RuntimeError):
    """This database cannot run here (the run reports it as skipped, with the reason)."""
