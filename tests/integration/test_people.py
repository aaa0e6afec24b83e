"""People: disabling, enabling, deleting, groups and passwords, and users removed from the config
(the services; tests/integration/test_people_cli.py drives the same from the outside)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from signoff.adapters.db.credentials import TokenVerifier
from signoff.adapters.db.tables import AuditRow, OutboxRow, TokenRow, UserRow, WebSessionRow
from signoff.adapters.passwords import hash_password, verify_password
from signoff.bootstrap import Context, bootstrap
from signoff.config import Settings
from signoff.errors import AlreadyExists, AuthenticationFailed, InvalidInput, InvalidTransition
from signoff.services import accounts, people, tokens, web_sessions
from signoff.services.ports import FixedClock
from tests.conftest import USERS, make_settings, unique


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
        sid, _ = web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1", verify_password=verify_password)
        tokens.create_token(uow=ctx.uow(), user=name, scopes=["resolve"], actor="test")
        assert live_sessions_and_tokens(ctx, name) == (1, 1)

        out = people.disable_user(uow=ctx.uow(), name=name, actor="root", reason="left the company")

        assert (out["state"], out["disabled_reason"]) == ("disabled", "left the company")
        assert live_sessions_and_tokens(ctx, name) == (0, 0)
        assert web_sessions.current_user(uow=ctx.uow(), session_id=sid) is None
        with pytest.raises(AuthenticationFailed):
            web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1", verify_password=verify_password)
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
        web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1", verify_password=verify_password)
        verifier = TokenVerifier(ctx.engine, ctx.clock, ttl=0)
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
        sid, _ = web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1", verify_password=verify_password)
        people.set_password(uow=ctx.uow(), name=name, password_hash=hash_password("another-password"), actor="root")
        assert web_sessions.current_user(uow=ctx.uow(), session_id=sid) is None
        with pytest.raises(AuthenticationFailed):
            web_sessions.sign_in(uow=ctx.uow(), name=name, password="right-password-1", verify_password=verify_password)
        web_sessions.sign_in(uow=ctx.uow(), name=name, password="another-password", verify_password=verify_password)
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
