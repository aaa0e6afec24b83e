"""`signoff aws-keys`: AWS access keys (SigV4) for boto3 pipelines, acting as a signoff user."""

from __future__ import annotations

import typer
from rich.table import Table

from signoff.entrypoints.cli._common import JSON_OPTION, client, console, err_console, print_json

aws_keys_app = typer.Typer(help="AWS access keys for the SSM and SageMaker doors (/aws/ssm, /aws/sagemaker).",
                           no_args_is_help=True)


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

    lifetime = parse_duration(expires) if expires else None
    with client(owner=True) as c:
        info = dict(c.create_aws_key(user, scopes=list(scope) if scope else None, expires_in=lifetime, name=name))
    secret = info.pop("secret_access_key")
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
    with client(owner=True) as c:
        rows = c.aws_keys(user=user)
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
    with client(owner=True) as c:
        revoked = c.revoke_aws_key(key)
    if as_json:
        print_json(revoked)
    else:
        console.print(f"revoked AWS key {revoked['access_key_id']} of {revoked['user']}")
