"""Start-up against a database that is not ready: one clear line and exit code 7 (unavailable),
never a traceback from the middle of start-up; a schema migrated by a newer release is accepted
(an older process during a rolling upgrade)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from signoff.adapters.db import migrate
from signoff.adapters.db.engine import build_engine
from signoff.config import new_secret_key
from tests.fixtures.servers import PostgresServer

CLI = [sys.executable, "-m", "signoff.entrypoints.cli"]


def _signoff(url: str, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env["SIGNOFF_DATABASE_URL"] = url
    env["SIGNOFF_SERVER__SECRET_KEY"] = new_secret_key()
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


class TestAServerOnAnUnmigratedPostgresDatabase:
    def test_refuses_with_one_line_naming_the_command_to_run(self, postgres_database: str, tmp_path: Path) -> None:
        result = _signoff(postgres_database, tmp_path, "server", "--port", "1")
        assert result.returncode == 7, result.stderr
        assert "run `signoff db upgrade`" in result.stderr
        assert "Traceback" not in result.stderr
        engine = build_engine(postgres_database)
        try:  # and it wrote nothing: still no schema
            with engine.connect() as conn:
                assert conn.execute(text("SELECT to_regclass('public.rules')")).scalar() is None
        finally:
            engine.dispose()

    def test_an_unreachable_database_is_named_as_such(self, tmp_path: Path) -> None:
        result = _signoff("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path, "server", "--port", "1")
        assert result.returncode == 7, result.stderr
        assert "cannot reach the database" in result.stderr
        assert "Traceback" not in result.stderr


class TestWhichSchemasNeedAnUpgrade:
    def test_missing_behind_current_and_newer(self, postgres_server: PostgresServer) -> None:
        engine = build_engine(postgres_server.create_database())
        try:
            assert migrate.needs_upgrade(engine)  # no schema at all
            migrate.upgrade(engine)
            assert not migrate.needs_upgrade(engine)
            with engine.begin() as conn:  # one branch's migration not applied yet
                heads = sorted(migrate._declared_heads())
                conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": heads[-1]})
            assert migrate.needs_upgrade(engine)
            with engine.begin() as conn:  # a newer release migrated past what this code knows
                conn.execute(text("DELETE FROM alembic_version"))
                conn.execute(text("INSERT INTO alembic_version VALUES ('9999_from_a_newer_release')"))
            assert not migrate.needs_upgrade(engine)
        finally:
            engine.dispose()
