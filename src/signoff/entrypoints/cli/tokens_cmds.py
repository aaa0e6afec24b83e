"""`signoff tokens`: API tokens for pipelines and people (created, listed and revoked locally)."""

from __future__ import annotations

import typer
from rich.table import Table

from signoff.entrypoints.cli._common import JSON_OPTION, client, console, err_console, print_json

tokens_app = typer.Typer(help="API tokens: scopes register, resolve, report, decide, rules, admin.", no_args_is_help=True)


@tokens_app.command("create")
def tokens_create(
    user: str = typer.Option(..., "--user", help="The user the token acts as."),
    scope: list[str] = typer.Option(..., "--scope", help="register, resolve, report, decide, rules or admin (repeatable)."),
    expires: str | None = typer.Option(None, "--expires", help="Lifetime such as 30d or 12h (default: none)."),
    name: str = typer.Option("", "--name", help="What the token is for."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a token and print it once: only its hash is stored."""
    from signoff.domain.timespec import parse_duration

    lifetime = parse_duration(expires) if expires else None
    with client(owner=True) as c:
        info = dict(c.create_token(user, list(scope), expires_in=lifetime, name=name))
    token = info.pop("token")
    if as_json:
        print_json({**info, "token": token})
        return
    # The token alone on stdout, so `TOKEN=$(signoff tokens create …)` works; the rest on stderr.
    err_console.print(f"token {info['id']} for {user} (scopes: {', '.join(info['scopes'])}; "
                      f"expires: {info['expires_at'] or 'never'}). Store it now: it is not shown again.",
                      markup=False)
    typer.echo(token)


@tokens_app.command("list")
def tokens_list(user: str | None = typer.Option(None, "--user"), as_json: bool = JSON_OPTION) -> None:
    """Tokens (their id and prefix, never the secret)."""
    with client(owner=True) as c:
        rows = c.tokens(user=user)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "user", "name", "prefix", "scopes", "expires", "last used", "revoked")
    for t in rows:
        table.add_row(str(t["id"]), t["user"], t["name"], t["prefix"] + "…", ", ".join(t["scopes"]),
                      (t["expires_at"] or "never")[:19], (t["last_used_at"] or "-")[:19], (t["revoked_at"] or "")[:19])
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: int = typer.Argument(..., help="The token's id (see `signoff tokens list`)."),
                  as_json: bool = JSON_OPTION) -> None:
    """Revoke a token; servers stop accepting it within their token cache time (default 5 s)."""
    with client(owner=True) as c:
        revoked = c.revoke_token(token_id)
    if as_json:
        print_json(revoked)
    else:
        console.print(f"revoked token {revoked['id']} of {revoked['user']} ({revoked['prefix']}…)")
