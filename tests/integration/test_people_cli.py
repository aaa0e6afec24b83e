"""People from the outside: the `users` command, a server start after a user left the config, and
embedded use (SDK and CLI) that must name its database and an existing user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

import signoff
from signoff.adapters.db.tables import UserRow
from signoff.bootstrap import Context
from signoff.errors import AuthenticationFailed, InvalidInput
from tests.conftest import USERS, unique
from tests.fixtures.signoff_process import SignoffProcess, write_config
from tests.integration.test_cli import Cli

CLI = [sys.executable, "-m", "signoff.entrypoints.cli"]


class TestAServerStart:
    def test_signoff_server_disables_them_at_its_next_start(self, tmp_path: Path) -> None:
        server = SignoffProcess(tmp_path / "srv")
        server.start()
        server.stop()
        write_config(Path(server.env["SIGNOFF_CONFIG"]), users={k: v for k, v in USERS.items() if k != "uma"})
        server.start()
        try:
            listed = server.cli("users", "list", "--json", remote=False)
        finally:
            server.stop()
        assert listed.returncode == 0, listed.stderr
        states = {u["name"]: u["state"] for u in json.loads(listed.stdout)}
        assert states["uma"] == "disabled" and states["rita"] == "active"


class TestTheUsersCommand:
    def test_disable_enable_set_groups_set_password_and_delete(self, tmp_path: Path) -> None:
        cli = Cli(tmp_path)
        assert cli("users", "add", "zoe", "--group", "ml-reviewers", "--password", "first-password").returncode == 0
        out = cli("users", "disable", "zoe", "--reason", "left")
        assert out.returncode == 0 and "disabled user zoe" in out.stdout, out.stderr
        assert cli.json("users", "list")[-1]["state"] == "disabled"  # type: ignore[index]
        assert cli("users", "enable", "zoe").returncode == 0
        out = cli("users", "set-groups", "zoe", "--group", "ml-leads", "--group", "risk-office", "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["groups"] == ["ml-leads", "risk-office"]
        assert cli("users", "set-groups", "zoe").returncode == 2  # neither --group nor --clear
        out = subprocess.run([*CLI, "users", "set-password", "zoe", "--password-stdin"], input="second-password\n",
                             capture_output=True, text=True, env=cli.env, cwd=cli.cwd, timeout=60)
        assert out.returncode == 0, out.stderr
        assert cli("users", "delete", "zoe", "--yes").returncode == 0
        again = cli("users", "add", "zoe")
        assert again.returncode == 4 and "never reused" in again.stderr
        assert cli("users", "disable", "nobody-here").returncode == 3


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}


class TestEmbeddedUseIsExplicit:
    def test_client_without_a_server_or_database_refuses_and_creates_nothing(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        for key in [k for k in os.environ if k.startswith("SIGNOFF_")]:
            monkeypatch.delenv(key)
        monkeypatch.chdir(tmp_path)
        with pytest.raises(InvalidInput, match="SIGNOFF_URL") as caught:
            signoff.Client()
        assert caught.value.details == {"missing": "SIGNOFF_URL"}
        assert list(tmp_path.iterdir()) == []

    def test_client_acts_only_as_an_existing_enabled_user(self, ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
        for key in [k for k in os.environ if k.startswith("SIGNOFF_")]:
            monkeypatch.delenv(key)
        url = ctx.settings.database_url
        with pytest.raises(AuthenticationFailed, match="unknown user 'local'"):
            signoff.Client(database_url=url, actor="local")
        with ctx.engine.begin() as conn:
            conn.execute(update(UserRow).where(UserRow.name == "ron").values(disabled=True))
        with pytest.raises(AuthenticationFailed, match="disabled user 'ron'"):
            signoff.Client(database_url=url, actor="ron")
        with signoff.Client(database_url=url, actor="dana") as dana:
            assert dana.register(unique(), "s3://b/m.pkl")["registered_by"] == "dana"
        with signoff.Client(database_url=url) as reader:
            assert reader.models()
            with pytest.raises(AuthenticationFailed, match="can only read"):
                reader.register(unique(), "s3://b/m.pkl")

    def test_the_cli_without_a_server_or_database_refuses_with_one_line(self, tmp_path: Path) -> None:
        out = subprocess.run([*CLI, "register", "churn", "--artifact", "s3://b/m.pkl", "--as", "dana"],
                             capture_output=True, text=True, env=_clean_env(), cwd=tmp_path, timeout=60)
        assert out.returncode == 2
        assert "SIGNOFF_URL" in out.stderr and len(out.stderr.strip().splitlines()) == 1
        assert list(tmp_path.iterdir()) == []

    def test_the_cli_writes_only_as_a_named_user(self, tmp_path: Path) -> None:
        cli = Cli(tmp_path)
        env: dict[str, Any] = {k: v for k, v in cli.env.items() if k != "SIGNOFF_USER"}
        env["USER"] = "dana"  # the login name is not a signoff identity
        out = subprocess.run([*CLI, "register", "churn", "--artifact", "s3://b/m.pkl"], capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=60)
        assert out.returncode == 6 and "--as" in out.stderr
        assert cli("register", "churn", "--artifact", "s3://b/m.pkl", "--as", "ghost").returncode == 6
        assert cli("register", "churn", "--artifact", "s3://b/m.pkl", "--as", "dana").returncode == 0
