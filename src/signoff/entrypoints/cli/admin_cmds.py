"""Administration: users, database migrations."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Optional

import typer
from rich.table import Table

from signoff.domain.people import check_password
from signoff.entrypoints.cli import _common
from signoff.entrypoints.cli._common import JSON_OPTION, client, console, print_json
from signoff.errors import InvalidInput
from signoff.sdk._base import BaseClient

users_app = typer.Typer(help="Local users and their groups.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


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
    with client(owner=True) as c:
        user = c.add_user(name, groups=list(group or []), email=email, password=password, admin=admin)
    if as_json:
        print_json(user)
    else:
        console.print(f"added user {name} (groups: {', '.join(user['groups']) or '-'})")


@users_app.command("list")
def users_list(as_json: bool = JSON_OPTION) -> None:
    """Users and their groups."""
    with client(owner=True) as c:
        users = c.users()
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


def _change(name: str, call: Callable[[BaseClient], Any], done: str, as_json: bool) -> None:
    """Run one account change on the server ($SIGNOFF_URL, admin token) or on the local database."""
    with client(owner=True) as c:
        user = call(c)
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
    _change(name, lambda c: c.disable_user(name, reason=reason), "disabled user {name}: sessions ended, tokens revoked",
            as_json)


@users_app.command("enable")
def users_enable(name: str, as_json: bool = JSON_OPTION) -> None:
    """Let a disabled user sign in again (revoked tokens stay revoked)."""
    _change(name, lambda c: c.enable_user(name), "enabled user {name}", as_json)


@users_app.command("delete")
def users_delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a user for good: sessions, tokens, groups and password go; the name is never reused."""
    if not yes and not typer.confirm(f"Delete user {name} for good? The name can never be used again."):
        raise InvalidInput("not deleted: confirm, or pass --yes")
    _change(name, lambda c: c.delete_user(name), "deleted user {name}", as_json)


@users_app.command("set-groups")
def users_set_groups(
    name: str,
    group: Optional[list[str]] = typer.Option(None, "--group", help="Group (repeatable); replaces all groups."),
    clear: bool = typer.Option(False, "--clear", help="Remove every group."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace a local user's groups."""
    groups = list(group or [])
    if bool(groups) == clear:
        raise InvalidInput("give --group at least once, or --clear to remove every group")
    _change(name, lambda c: c.set_user_groups(name, groups), "user {name} now has groups: {groups}", as_json)


@users_app.command("set-password")
def users_set_password(
    name: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Set a local user's password (asked twice, hidden); their web sessions end."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"New password for {name}", hide_input=True, confirmation_prompt=True)
    check_password(password)
    _change(name, lambda c: c.set_user_password(name, password), "password of {name} set", as_json)


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
