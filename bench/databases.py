"""The databases a benchmark runs on: SQLite files, or databases on one PostgreSQL server.

`SIGNOFF_BENCH_DB` picks them (`make bench DB=...`): `all` (the default: SQLite, then
PostgreSQL), `sqlite` or `postgres`. PostgreSQL is the server at `SIGNOFF_BENCH_POSTGRES_URL`
when that is set (a superuser URL; the benchmarks create and drop their own databases on it),
else a throw-away cluster started from the Debian binaries on a loopback port, the way the
test suite's `postgres_server` fixture does (tests/fixtures/servers.py; that module needs
pytest, which `make bench` does not install, hence this small copy).

The throw-away cluster keeps `fsync` on and sets `synchronous_commit = off`: a crash may lose
the last few commits but never corrupts the database, the same bargain as the SQLite engine's
WAL with `synchronous = NORMAL`, so the two are compared on equal terms.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """A PostgreSQL server: `url` (SQLAlchemy, psycopg 3) of its maintenance database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dsn = urllib.parse.urlsplit(url)._replace(scheme="postgresql").geturl()
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._created: list[str] = []

    @classmethod
    def launch(cls, bindir: Path) -> PostgresServer:
        """initdb + postgres in a temporary directory, as the `postgres` user when we are root."""
        tmp = Path(tempfile.mkdtemp(prefix="signoff-bench-pg-"))
        as_user: dict[str, object] = {}
        if os.geteuid() == 0:  # initdb refuses to run as root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no `postgres` user to run PostgreSQL as") from None
            os.chown(tmp, user.pw_uid, user.pw_gid)
            as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        port = _free_port()
        server = cls(f"postgresql+psycopg://postgres@{HOST}:{port}/postgres")
        server._tmp = tmp
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        log = tmp / "postgres.log"
        settings = [arg for k, v in PG_SETTINGS.items() for arg in ("-c", f"{k}={v}")]
        with open(log, "wb") as out:
            subprocess.run([bindir / "initdb", "-D", tmp / "data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
                            "--locale=C", "--no-instructions"],
                           check=True, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env=env, **as_user)
            server._proc = subprocess.Popen(
                [bindir / "postgres", "-D", tmp / "data", "-p", str(port), "-k", tmp,
                 "-c", f"listen_addresses={HOST}", *settings],
                stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env=env, start_new_session=True, **as_user)
        deadline = time.monotonic() + 30
        while not server._accepts_queries():
            if server._proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                server.stop()
                raise RuntimeError(f"postgres did not start:\n{tail}")
            time.sleep(0.05)
        return server

    def _accepts_queries(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.dsn, connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    @property
    def launched(self) -> bool:
        """Started by us (a throw-away cluster), not reached at SIGNOFF_BENCH_POSTGRES_URL."""
        return self._proc is not None

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def create_database(self, label: str) -> str:
        """A new database named after `label`; returns its SQLAlchemy URL. Dropped by stop()."""
        import psycopg

        name = f"bench_{label}_{uuid.uuid4().hex[:8]}".replace("-", "_")
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        self._created.append(name)
        return self.url_for(name)

    def url_for(self, name: str, scheme: str = "postgresql+psycopg") -> str:
        return urllib.parse.urlsplit(self.url)._replace(scheme=scheme, path=f"/{name}").geturl()

    def stop(self) -> None:
        if self._proc is None:  # someone else's server: drop what we made on it
            import psycopg

            with contextlib.suppress(psycopg.Error), psycopg.connect(self.dsn, autocommit=True) as conn:
                for name in self._created:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        elif self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


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
