"""Commands after approval: rollback, revoke, and break-glass (`signoff promote --break-glass`)."""

from __future__ import annotations

from typing import Any

import typer

from signoff.entrypoints.cli._common import (
    AS_OPTION,
    JSON_OPTION,
    client,
    console,
    err_console,
    print_json,
)


def lifecycle_extras(*, reference: str | None, store: bool | None) -> dict[str, Any]:
    """`register` options passed only when given (a transport may refuse `store=True`: over HTTP the
    server cannot read this machine's files)."""
    extra: dict[str, Any] = {}
    if reference is not None:
        extra["reference"] = reference
    if store is not None:
        extra["store"] = store
    return extra


def run_break_glass(model: str, version: int, env: str, justification: str, actor: str | None, as_json: bool) -> None:
    with client(actor) as c:
        r = c.break_glass(model, version, env, justification=justification)
    if as_json:
        print_json(r)
        return
    err_console.print(f"[bold red]BREAK-GLASS[/] {model} v{version} is live in {env} without its approval, "
                      f"by {r['approved_by'][0]}; this is audited and the approvers are notified")
    if r.get("skipped_envs"):
        err_console.print(f"  skipped approvals in: {', '.join(r['skipped_envs'])}")
    if r.get("failed_gates"):
        err_console.print(f"  failing gates: {'; '.join(r['failed_gates'])}")
    console.print(f"{model} in {env}: version {r['version']} (parameter version {r['parameter_version']})")


# Top-level commands, merged into `signoff` itself (cli/__init__.py).
lifecycle_app = typer.Typer()


@lifecycle_app.command()
def rollback(
    model: str,
    env: str = typer.Option(..., "--env"),
    to: int | None = typer.Option(None, "--to", help="Version to make live (default: the previous one)."),
    reason: str = typer.Option("", "--reason"),
    actor: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make an earlier version that is Approved in ENV live there again (approvers of ENV only)."""
    with client(actor) as c:
        r = c.rollback(model, env, to_version=to, reason=reason)
    if as_json:
        print_json(r)
        return
    console.print(f"rolled back {model} in {env}: version {r['previous_version']} → [bold]{r['version']}[/] "
                  f"(parameter version {r['parameter_version']})")


@lifecycle_app.command()
def revoke(
    model: str,
    version: int,
    env: str = typer.Option(..., "--env"),
    reason: str = typer.Option(..., "--reason", help="Why (required)."),
    only_env: bool = typer.Option(
        False, "--only-env", help="Revoke in ENV only (default: also every later environment where it is Approved)."),
    actor: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Mark VERSION Revoked in ENV and every later environment where it is Approved; wherever it was
    live, the previous approved version (or none) is live."""
    with client(actor) as c:
        r = c.revoke(model, version, env, reason=reason, only_env=only_env)
    if as_json:
        print_json(r)
        return
    for e in r.get("environments") or [r]:
        console.print(f"[magenta]revoked[/] {model} v{version} in {e['env']}: {reason}")
        if e["was_live"]:
            now = f"version {e['live_version']}" if e["live_version"] is not None else "no version"
            console.print(f"  it was live there; now {now} is live (parameter version {e['parameter_version']})")
