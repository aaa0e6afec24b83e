"""Administration: users, database migrations."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from signoff.entrypoints.cli import _common
from signoff.entrypoints.cli._common import JSON_OPTION, console, print_json

users_app = typer.Typer(help="Local users and their groups.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _context():  # type: ignore[no-untyped-def]
    from signoff.bootstrap import bootstrap
    from signoff.config import load_settings

    overrides = {"database_url": _common.state.database_url} if _common.state.database_url else {}
    return bootstrap(load_settings(_common.state.config, **overrides))


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
    table = Table("name", "groups", "email", "source")
    for u in users:
        table.add_row(u["name"], ", ".join(u["groups"]), u["email"] or "", u["source"])
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply schema migrations up to REVISION (default: all heads)."""
    from signoff.adapters.db import migrate
    from signoff.adapters.db.engine import build_engine
    from signoff.config import load_settings

    overrides = {"database_url": _common.state.database_url} if _common.state.database_url else {}
    settings = load_settings(_common.state.config, **overrides)
    engine = build_engine(settings.resolved_database_url())
    try:
        migrate.upgrade(engine, revision)
        console.print(f"database at revision {migrate.current_revision(engine)}")
    finally:
        engine.dispose()


def register_commands(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(db_app, name="db")
