"""People: disabling, enabling, deleting, groups and passwords; users removed from the config;
and embedded use that must name its database and its (existing) user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import signoff
from signoff.adapters.db.tables import AuditRow, OutboxRow, TokenRow, UserRow, WebSessionRow
from signoff.adapters.passwords import hash_password
from signoff.bootstrap import Context, bootstrap
from signoff.config import Settings
from signoff.errors import AlreadyExists, AuthenticationFailed, InvalidInput, InvalidTransition
from signoff.services import accounts, people, tokens, web_sessions
from signoff.services.ports import FixedClock
from tests.conftest import USERS, make_settings, unique
from tests.fixtures.signoff_process import SignoffProcess, write_config
from tests.integration.test_cli import Cli

CLI = [sys.executable, "-m", "signoff.entrypoints.cli"]


def local_user(ctx: Context, *groups: str, password: str = "right-password-1") -> str:
    name = unique("p")
    accounts.add_user(uow=ctx.uow(), name=name, actor="test", groups=list(groups or ["ml-reviewers"]),
                      password_hash=hash_password(password))
    return name


def changes(ctx: Context, name: str) -> list[tuple[str, str]]:
    """(audit action, event type) pairs of the changes to `name`, in order (sign-ins and -outs are not changes)."""
    with ctx.engine.connect() as conn:
        audit = [a for (a,) in conn.execute(select(AuditRow.action).where(AuditRow.subject == f"users/{name}")
                                            .order_by(AuditRow.id)) if a not in ("user.signed_in", "user.signed_out")]
        events = [t for (t,) in conn.execute(select(OutboxRow.type).where(OutboxRow.subject == f"users/{name}")
                                             .order_by(OutboxRow.id))]
    return list(zip(audit, events, strict=True))


def live_sessions_and_tokens(ctx: Context, name: str) -> tuple[int, int]:
    with ctx.engine.connect() as conn:
        uid = conn.execute(select(UserRow.id).where(UserRow.name == name)).scalar_one()
        sessions = conn.execute(select(func.count()).select_from(WebSessionRow)
                                .where(WebSessionRow.user_id == uid)).scalar_one()
        live = conn.execute(select(func.count()).select_from(TokenRow)
                            .where(TokenRow.user_id == uid, TokenRow.revoked_at.is_(None))).scalar_one()
    return int(sessions), int(live)


class TestDisabling:
    def test_ends_web_sessions_and_tokens_at_once_and_refuses_sign_in(self, ctx: Context) -> None:
        name = local_user(ctx)
        sid, _ = web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1")
        tokens.create_token(uow=ctx.uow(), user=name, scopes=["resolve"], actor="test")
        assert live_sessions_and_tokens(ctx, name) == (1, 1)

        out = people.disable_user(uow=ctx.uow(), name=name, actor="root", reason="left the company")

        assert (out["state"], out["disabled_reason"]) == ("disabled", "left the company")
        assert live_sessions_and_tokens(ctx, name) == (0, 0)
        assert web_sessions.current_user(uow=ctx.uow(), session_id=sid) is None
        with pytest.raises(AuthenticationFailed):
            web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1")
        assert changes(ctx, name)[-1] == ("user.disabled", "signoff.user.disabled")

    def test_a_disabled_user_is_not_asked_to_approve(self, ctx: Context) -> None:
        group = unique("g")
        name = local_user(ctx, group)
        people.disable_user(uow=ctx.uow(), name=name, actor="root")
        with ctx.uow() as uow:
            assert uow.users.members_of([group]) == []

    def test_enabling_lets_them_sign_in_again_but_revoked_tokens_stay_revoked(self, ctx: Context) -> None:
        name = local_user(ctx)
        token, _ = tokens.create_token(uow=ctx.uow(), user=name, scopes=["resolve"], actor="test")
        people.disable_user(uow=ctx.uow(), name=name, actor="root")
        people.enable_user(uow=ctx.uow(), name=name, actor="root")
        web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1")
        verifier = tokens.TokenVerifier(ctx.engine, ctx.clock, ttl=0)
        with pytest.raises(AuthenticationFailed, match="revoked"):
            verifier.verify(token)
        assert changes(ctx, name)[-2:] == [
            ("user.disabled", "signoff.user.disabled"), ("user.enabled", "signoff.user.enabled")]

    def test_nobody_disables_or_deletes_their_own_account(self, ctx: Context) -> None:
        name = local_user(ctx)
        with pytest.raises(InvalidInput, match="your own account"):
            people.disable_user(uow=ctx.uow(), name=name, actor=name)
        with pytest.raises(InvalidInput, match="your own account"):
            people.delete_user(uow=ctx.uow(), name=name, actor=name)


class TestDeleting:
    def test_a_deleted_name_is_never_reused(self, ctx: Context) -> None:
        name = local_user(ctx, "ml-leads")
        tokens.create_token(uow=ctx.uow(), user=name, scopes=["decide"], actor="test")
        out = people.delete_user(uow=ctx.uow(), name=name, actor="root")
        assert (out["state"], out["groups"]) == ("deleted", [])
        assert live_sessions_and_tokens(ctx, name) == (0, 0)
        with pytest.raises(AlreadyExists, match="never reused"):
            accounts.add_user(uow=ctx.uow(), name=name, actor="root", groups=["ml-leads"])
        with pytest.raises(InvalidTransition):
            people.enable_user(uow=ctx.uow(), name=name, actor="root")
        assert changes(ctx, name)[-1] == ("user.deleted", "signoff.user.deleted")

    def test_a_deleted_name_declared_in_the_config_stays_deleted(self, ctx: Context, settings: Settings,
                                                                 clock: FixedClock) -> None:
        people.delete_user(uow=ctx.uow(), name="eve", actor="root")
        again = bootstrap(settings, clock=clock, retire_config_users=True)
        try:
            (eve,) = [u for u in accounts.list_users(uow=again.uow()) if u["name"] == "eve"]
        finally:
            again.close()
        assert (eve["state"], eve["groups"]) == ("deleted", [])


class TestGroupsAndPasswords:
    def test_set_groups_is_audited_with_its_event(self, ctx: Context) -> None:
        name = local_user(ctx, "ml-reviewers")
        out = accounts.set_groups(uow=ctx.uow(), name=name, groups=["ml-leads", "risk-office"], actor="root")
        assert out["groups"] == ["ml-leads", "risk-office"]
        assert changes(ctx, name)[-1] == ("user.groups_changed", "signoff.user.groups_changed")

    def test_a_new_password_replaces_the_old_one_and_ends_web_sessions(self, ctx: Context) -> None:
        name = local_user(ctx)
        sid, _ = web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1")
        people.set_password(uow=ctx.uow(), name=name, password_hash=hash_password("another-password"), actor="root")
        assert web_sessions.current_user(uow=ctx.uow(), session_id=sid) is None
        with pytest.raises(AuthenticationFailed):
            web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1")
        web_sessions.sign_in(uow=ctx.uow(), name=name, password="another-password")
        assert ("user.password_changed", "signoff.user.password_changed") in changes(ctx, name)

    def test_short_passwords_are_refused(self) -> None:
        with pytest.raises(InvalidInput):
            people.check_password("short")


class TestUsersRemovedFromTheConfig:
    def test_are_disabled_when_a_server_starts_and_enabled_when_declared_again(
            self, ctx: Context, tmp_path: Path, clock: FixedClock) -> None:
        token, _ = tokens.create_token(uow=ctx.uow(), user="ron", scopes=["decide"], actor="test")
        without_ron = make_settings(tmp_path, database_url=ctx.settings.database_url,
                                    users={k: v for k, v in USERS.items() if k != "ron"})
        again = bootstrap(without_ron, clock=clock, retire_config_users=True)
        again.close()
        (ron,) = [u for u in accounts.list_users(uow=ctx.uow()) if u["name"] == "ron"]
        assert (ron["state"], ron["disabled_reason"]) == ("disabled", "removed from the configuration")
        assert live_sessions_and_tokens(ctx, "ron") == (0, 0)
        assert changes(ctx, "ron")[-1] == ("user.disabled", "signoff.user.disabled")

        bootstrap(ctx.settings, clock=clock, retire_config_users=True).close()
        (ron,) = [u for u in accounts.list_users(uow=ctx.uow()) if u["name"] == "ron"]
        assert ron["state"] == "active"

    def test_an_administrators_disable_survives_a_restart(self, ctx: Context, clock: FixedClock) -> None:
        people.disable_user(uow=ctx.uow(), name="rita", actor="root", reason="on leave")
        bootstrap(ctx.settings, clock=clock, retire_config_users=True).close()
        (rita,) = [u for u in accounts.list_users(uow=ctx.uow()) if u["name"] == "rita"]
        assert (rita["state"], rita["disabled_reason"]) == ("disabled", "on leave")

    def test_the_cli_with_a_partial_config_disables_nobody(self, ctx: Context, tmp_path: Path,
                                                           clock: FixedClock) -> None:
        partial = make_settings(tmp_path, database_url=ctx.settings.database_url, users={})
        bootstrap(partial, clock=clock).close()
        assert {u["state"] for u in accounts.list_users(uow=ctx.uow())} == {"active"}

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
        import json

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
        import json

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
        people.disable_user(uow=ctx.uow(), name="ron", actor="root")
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
