"""Administration: users, database migrations."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Optional

import typer
from rich.table import Table

from signoff.entrypoints.cli import _common
from signoff.entrypoints.cli._common import JSON_OPTION, console, print_json
from signoff.errors import InvalidInput

users_app = typer.Typer(help="Local users and their groups.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _context():  # type: ignore[no-untyped-def]
    from signoff.bootstrap import bootstrap
    from signoff.sdk._client import embedded_settings

    return bootstrap(embedded_settings(config=_common.state.config, database_url=_common.state.database_url))


@users_app.command("add")
def users_add(
    name: str,
    group: Optional[list[str]] = typer.Option(None, "--group", help="Group (repeatable)."),
    email: Optional[str] = typer.Option(None, "--email"),
    password: Optional[str] = typer.Option(None, "--password", help="Password for web sign-in."),
    admin: bool = typer.Option(False, "--admin"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a local user with groups."""
    from signoff.adapters.passwords import hash_password
    from signoff.entrypoints.cli.tokens_cmds import remote_admin
    from signoff.services import accounts

    remote = remote_admin()
    if remote is not None:
        with remote:
            user = remote.add_user(name, groups=list(group or []), email=email, password=password, admin=admin)
    else:
        ctx = _context()
        try:
            user = accounts.add_user(uow=ctx.uow(), name=name, actor="signoff:cli", groups=list(group or []),
                                     email=email, password_hash=hash_password(password) if password else None,
                                     admin=admin)
        finally:
            ctx.close()
    if as_json:
        print_json(user)
    else:
        console.print(f"added user {name} (groups: {', '.join(user['groups']) or '-'})")


@users_app.command("list")
def users_list(as_json: bool = JSON_OPTION) -> None:
    """Users and their groups."""
    from signoff.entrypoints.cli.tokens_cmds import remote_admin
    from signoff.services import accounts

    remote = remote_admin()
    if remote is not None:
        with remote:
            users = remote.users()
    else:
        ctx = _context()
        try:
            users = accounts.list_users(uow=ctx.read_uow())
        finally:
            ctx.close()
    if as_json:
        print_json(users)
        return
    table = Table("name", "groups", "email", "source", "state")
    for u in users:
        state = u.get("state", "active")
        if state == "disabled" and u.get("disabled_reason"):
            state += f" ({u['disabled_reason']})"
        table.add_row(u["name"], ", ".join(u["groups"]), u["email"] or "", u["source"], state)
    console.print(table)


ACTOR = "signoff:cli"


def _change(name: str, remote_call: Callable[[Any], Any], local_call: Callable[[Any], Any], done: str,
            as_json: bool) -> None:
    """Run one account change on the server ($SIGNOFF_URL, admin token) or on the local database."""
    from signoff.entrypoints.cli.tokens_cmds import remote_admin

    remote = remote_admin()
    if remote is not None:
        with remote:
            user = remote_call(remote)
    else:
        ctx = _context()
        try:
            user = local_call(ctx)
        finally:
            ctx.close()
    if as_json:
        print_json(user)
    else:
        console.print(done.format(name=name, groups=", ".join(user["groups"]) or "-"), markup=False)


@users_app.command("disable")
def users_disable(
    name: str,
    reason: str = typer.Option("", "--reason", help="Why (kept in the audit log and shown in the user list)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Disable a user: no sign-in; their web sessions end and API tokens are revoked at once."""
    from signoff.services import people

    _change(name, lambda r: r.disable_user(name, reason=reason),
            lambda ctx: people.disable_user(uow=ctx.uow(), name=name, actor=ACTOR, reason=reason),
            "disabled user {name}: sessions ended, tokens revoked", as_json)


@users_app.command("enable")
def users_enable(name: str, as_json: bool = JSON_OPTION) -> None:
    """Let a disabled user sign in again (revoked tokens stay revoked)."""
    from signoff.services import people

    _change(name, lambda r: r.enable_user(name),
            lambda ctx: people.enable_user(uow=ctx.uow(), name=name, actor=ACTOR), "enabled user {name}", as_json)


@users_app.command("delete")
def users_delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a user for good: sessions, tokens, groups and password go; the name is never reused."""
    from signoff.services import people

    if not yes and not typer.confirm(f"Delete user {name} for good? The name can never be used again."):
        raise InvalidInput("not deleted: confirm, or pass --yes")
    _change(name, lambda r: r.delete_user(name),
            lambda ctx: people.delete_user(uow=ctx.uow(), name=name, actor=ACTOR), "deleted user {name}", as_json)


@users_app.command("set-groups")
def users_set_groups(
    name: str,
    group: Optional[list[str]] = typer.Option(None, "--group", help="Group (repeatable); replaces all groups."),
    clear: bool = typer.Option(False, "--clear", help="Remove every group."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace a local user's groups."""
    from signoff.services import accounts

    groups = list(group or [])
    if bool(groups) == clear:
        raise InvalidInput("give --group at least once, or --clear to remove every group")
    _change(name, lambda r: r.set_user_groups(name, groups),
            lambda ctx: accounts.set_groups(uow=ctx.uow(), name=name, groups=groups, actor=ACTOR),
            "user {name} now has groups: {groups}", as_json)


@users_app.command("set-password")
def users_set_password(
    name: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Set a local user's password (asked twice, hidden); their web sessions end."""
    from signoff.services import people

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"New password for {name}", hide_input=True, confirmation_prompt=True)
    people.check_password(password)

    def local(ctx: Any) -> Any:
        from signoff.adapters.passwords import hash_password

        return people.set_password(uow=ctx.uow(), name=name, password_hash=hash_password(password), actor=ACTOR)

    _change(name, lambda r: r.set_user_password(name, password), local, "password of {name} set", as_json)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply schema migrations up to REVISION (default: all heads)."""
    from signoff.adapters.db import migrate
    from signoff.adapters.db.engine import build_engine
    from signoff.config import load_settings

    overrides = {"database_url": _common.state.database_url} if _common.state.database_url else {}
    settings = load_settings(_common.state.config, **overrides)
    from signoff.bootstrap import signing_keys
    from signoff.services.ports import SystemClock

    signing_keys(settings, SystemClock())  # the first upgrade creates the key, and says where
    engine = build_engine(settings.resolved_database_url())
    try:
        migrate.upgrade(engine, revision)
        console.print(f"database at revision {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


def register_commands(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(db_app, name="db")
