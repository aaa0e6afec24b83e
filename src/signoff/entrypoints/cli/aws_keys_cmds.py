"""`signoff aws-keys`: AWS access keys (SigV4) for boto3 pipelines, acting as a signoff user."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from signoff.entrypoints.cli._common import JSON_OPTION, console, err_console, print_json

aws_keys_app = typer.Typer(help="AWS access keys for the SSM and SageMaker doors (/aws/ssm, /aws/sagemaker).",
                           no_args_is_help=True)

ACTOR = "signoff:cli"


def _context() -> Any:
    from signoff.entrypoints.cli.admin_cmds import _context as admin_context

    return admin_context()  # type: ignore[no-untyped-call]


def _remote() -> Any:
    """The server's admin API when $SIGNOFF_URL is set (the token needs the admin scope), else None."""
    from signoff.entrypoints.cli.tokens_cmds import remote_admin

    return remote_admin()  # type: ignore[no-untyped-call]


def _sealer(ctx: Any) -> Any:
    from signoff.adapters.aws_secrets import SecretBox

    return SecretBox(ctx.settings.server.secret_key.get_secret_value())


@aws_keys_app.command("create")
def aws_keys_create(
    user: str = typer.Option(..., "--user", help="The signoff user the key acts as."),
    scope: list[str] = typer.Option(None, "--scope", help="register, resolve, report, decide or admin (repeatable; "
                                    "default: register, resolve, report, decide)."),
    expires: str | None = typer.Option(None, "--expires", help="Lifetime such as 90d (default: none)."),
    name: str = typer.Option("", "--name", help="What the key is for."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Issue an access key id and secret; the secret is printed once and stored encrypted."""
    from signoff.domain.timespec import parse_duration
    from signoff.services import aws_keys

    lifetime = parse_duration(expires) if expires else None
    remote = _remote()
    if remote is not None:
        with remote:
            info = dict(remote._post("/aws-keys", {
                "user": user, "scopes": list(scope) if scope else None, "name": name,
                "expires_in_seconds": int(lifetime.total_seconds()) if lifetime else None}))
        secret = info.pop("secret_access_key")
    else:
        ctx = _context()
        try:
            secret, info = aws_keys.create_key(uow=ctx.uow(), sealer=_sealer(ctx), user=user, actor=ACTOR,
                                               scopes=list(scope or []), expires_in=lifetime, name=name)
        finally:
            ctx.close()
    if as_json:
        print_json({"access_key_id": info["access_key_id"], "secret_access_key": secret, **info})
        return
    err_console.print(f"AWS key {info['id']} for {user} (scopes: {', '.join(info['scopes'])}; expires: "
                      f"{info['expires_at'] or 'never'}). Store the secret now: it is not shown again.", markup=False)
    typer.echo(f"aws_access_key_id = {info['access_key_id']}")
    typer.echo(f"aws_secret_access_key = {secret}")


@aws_keys_app.command("list")
def aws_keys_list(user: str | None = typer.Option(None, "--user"), as_json: bool = JSON_OPTION) -> None:
    """Keys (their access key id, never the secret)."""
    from signoff.services import aws_keys

    remote = _remote()
    if remote is not None:
        with remote:
            rows: list[dict[str, Any]] = [dict(r) for r in remote._items("/aws-keys", user=user)]
    else:
        ctx = _context()
        try:
            rows = aws_keys.list_keys(uow=ctx.uow(), user=user)
        finally:
            ctx.close()
    if as_json:
        print_json(rows)
        return
    table = Table("id", "access key id", "user", "name", "scopes", "expires", "last used", "revoked")
    for k in rows:
        table.add_row(str(k["id"]), k["access_key_id"], k["user"], k["name"], ", ".join(k["scopes"]),
                      (k["expires_at"] or "never")[:19], (k["last_used_at"] or "-")[:19], (k["revoked_at"] or "")[:19])
    console.print(table)


@aws_keys_app.command("revoke")
def aws_keys_revoke(key: str = typer.Argument(..., help="The key's id or access key id (see `signoff aws-keys list`)."),
                    as_json: bool = JSON_OPTION) -> None:
    """Revoke a key; servers stop accepting it within `[aws] key_cache_seconds` (default 5 s)."""
    from signoff.services import aws_keys

    remote = _remote()
    if remote is not None:
        with remote:
            info: dict[str, Any] = dict(remote._send("DELETE", f"/aws-keys/{key}").json())
    else:
        ctx = _context()
        try:
            info = aws_keys.revoke_key(uow=ctx.uow(), key=int(key) if key.isdigit() else key, actor=ACTOR)
        finally:
            ctx.close()
    if as_json:
        print_json(info)
    else:
        console.print(f"revoked AWS key {info['access_key_id']} of {info['user']}")


def register_commands(app: typer.Typer) -> None:
    app.add_typer(aws_keys_app, name="aws-keys")
