"""The `signoff` command as users run it: a real process, a real database, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from tests.conftest import DIGEST, database_url_for, on_postgres

CONFIG = """
[environments]
order = ["dev", "test", "uat", "prod"]
[environments.dev]
approvers = ["ml-reviewers"]
[environments.test]
approvers = ["ml-reviewers"]
required_approvals = 2
[users.dana]
groups = ["data-science", "ml-reviewers"]
[users.rita]
groups = ["ml-reviewers"]
[users.ron]
groups = ["ml-reviewers"]
"""


class Cli:
    def __init__(self, tmp: Path, request: pytest.FixtureRequest | None = None) -> None:
        (tmp / "signoff.toml").write_text(CONFIG)
        self.db = database_url_for(tmp / "db.sqlite", request)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
        self.env.update(SIGNOFF_CONFIG=str(tmp / "signoff.toml"), SIGNOFF_DATABASE_URL=self.db)
        self.cwd = tmp

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "signoff.entrypoints.cli", *args], capture_output=True, text=True,
                              env=self.env, cwd=self.cwd, timeout=60)

    def json(self, *args: str) -> object:
        out = self(*args, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture(scope="class")
def registered(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Cli:
    """One database with churn v1 registered, shared by the error cases (they must not write)."""
    c = Cli(tmp_path_factory.mktemp("cli"), request)
    assert c("register", "churn", "--artifact", "s3://b/churn.pkl", "--digest", DIGEST, "--as", "dana").returncode == 0
    return c


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    """Read the CLI's database from outside, as an operator would."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def audit_rows(cli: Cli) -> int:
    return int(query(cli.db, "SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM outbox)")[0][0])


class TestCliWorkflow:
    def test_register_approve_promote_resolve(self, cli: Cli) -> None:
        out = cli("register", "churn", "--artifact", "s3://b/churn.pkl", "--digest", DIGEST, "--metric", "accuracy=0.93",
                  "--meta", "team=growth", "--as", "dana")
        assert out.returncode == 0, out.stderr
        assert "version 1" in out.stdout
        assert cli("approve", "churn", "1", "--env", "dev", "--as", "rita").returncode == 0
        assert cli.json("resolve", "churn", "--env", "dev")["version"] == 1  # type: ignore[index]
        promoted = cli("promote", "churn", "1", "--env", "test", "--as", "dana")
        assert promoted.returncode == 0, promoted.stderr
        one = cli("approve", "churn", "1", "--env", "test", "--as", "rita")
        assert "still needs 1 more approval" in one.stdout
        again = cli("approve", "churn", "1", "--env", "test", "--as", "rita")
        assert again.returncode == 4 and "does not count" in again.stderr
        assert cli("approve", "churn", "1", "--env", "test", "--as", "ron").returncode == 0
        board = cli.json("status", "churn")
        assert board[0]["stages"]["test"] == "Approved" and board[0]["live_in"] == ["dev", "test"]  # type: ignore[index]
        history = cli.json("params", "history", "/signoff/models/churn/test")
        assert [p["value"]["approved_by"] for p in history] == [["rita", "ron"]]  # type: ignore[union-attr,index]
        verify = cli("audit", "verify")
        assert verify.returncode == 0 and "ok" in verify.stdout
        events = cli.json("events", "list", "--type", "signoff.version.approved")
        assert len(events) == 2  # type: ignore[arg-type]

    def test_rejection_needs_a_comment(self, cli: Cli) -> None:
        cli("register", "churn", "--artifact", "s3://b/churn.pkl", "--digest", DIGEST, "--as", "dana")
        missing = cli("reject", "churn", "1", "--env", "dev", "--as", "rita")
        assert missing.returncode == 2
        done = cli("reject", "churn", "1", "--env", "dev", "--as", "rita", "--comment", "label leak")
        assert done.returncode == 0 and "rejected" in done.stdout


class TestCliErrors:
    @pytest.mark.parametrize(
        ("args", "code", "message"),
        [
            (["register", "Bad Name", "--artifact", "x", "--as", "dana"], 2, "invalid model name"),
            (["register", "churn", "--artifact", "x", "--metric", "acc=high", "--as", "dana"], 2, "must be a number"),
            (["versions", "nope"], 3, "model 'nope' not found"),
            (["resolve", "churn", "--env", "qa"], 3, "unknown environment 'qa'"),
            (["promote", "churn", "1", "--env", "test", "--as", "dana"], 4, "not Approved"),
            (["approve", "churn", "1", "--env", "dev", "--as", "dana"], 5, "separation of duties"),
            (["approve", "churn", "7", "--env", "dev", "--as", "rita"], 3, "version 7"),
            (["params", "get", "/signoff/models/churn/prod"], 3, "not found"),
        ],
    )
    def test_bad_input_gets_one_line_and_its_exit_code(
        self, registered: Cli, args: list[str], code: int, message: str
    ) -> None:
        before = audit_rows(registered)
        out = registered(*args)
        assert out.returncode == code, out.stderr
        assert message in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
        assert audit_rows(registered) == before

    def test_a_bad_config_names_the_key(self, cli: Cli, tmp_path: Path) -> None:
        (tmp_path / "signoff.toml").write_text('[environments.dev]\nrequired_approvals = "many"\n')
        out = cli("versions", "churn")
        assert out.returncode == 2 and "environments.dev.required_approvals" in out.stderr


class TestAuditTamper:
    def test_verify_names_the_edited_row(self, cli: Cli, tmp_path: Path) -> None:
        cli("register", "churn", "--artifact", "s3://b/churn.pkl", "--digest", DIGEST, "--as", "dana")
        cli("approve", "churn", "1", "--env", "dev", "--as", "rita")
        entries = cli.json("audit")
        victim = entries[1]["id"]  # type: ignore[index]
        # Someone with write access edits the row behind signoff's back, with the database's own client.
        if on_postgres():
            import psycopg

            dsn = cli.db.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn) as conn:
                conn.execute("UPDATE audit_log SET after = jsonb_set(after::jsonb, '{artifact_uri}', "
                             "'\"s3://evil\"')::json WHERE id = %s", (victim,))
        else:
            import sqlite3

            with sqlite3.connect(tmp_path / "db.sqlite") as conn:
                conn.execute("UPDATE audit_log SET after = json_set(after, '$.artifact_uri', 's3://evil') WHERE id = ?",
                             (victim,))
        out = cli("audit", "verify")
        assert out.returncode == 1
        assert f"entry {victim}" in out.stderr


class TestConcurrentRegistration:
    def test_two_processes_register_fifty_each_without_gaps(self, tmp_path: Path) -> None:
        url = database_url_for(tmp_path / "db.sqlite")
        script = (
            "import sys\n"
            "from signoff.bootstrap import bootstrap\n"
            "from signoff.config import Settings\n"
            "from signoff.sdk._embedded import EmbeddedClient\n"
            "s = Settings(home=sys.argv[1], users={'p1': {}, 'p2': {}}); s.database_url = sys.argv[3]\n"
            "c = EmbeddedClient(actor=sys.argv[2], context=bootstrap(s))\n"
            "for i in range(50):\n"
            "    c.register('race', f's3://b/{sys.argv[2]}/{i}')\n"
        )
        procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), who, url]) for who in ("p1", "p2")]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        numbers = [r[0] for r in query(url, "SELECT number FROM model_versions v JOIN models m ON m.id = v.model_id "
                                            "WHERE m.name='race' ORDER BY number")]
        by = dict(query(url, "SELECT registered_by, count(*) FROM model_versions GROUP BY registered_by"))
        assert numbers == list(range(1, 101))
        assert by == {"p1": 50, "p2": 50}
