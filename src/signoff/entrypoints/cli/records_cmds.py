"""Commands over the records: params, audit, events."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from signoff.entrypoints.cli import signing_cmds
from signoff.entrypoints.cli._common import JSON_OPTION, client, console, print_json

params_app = typer.Typer(help="The versioned parameter store (/signoff/models/MODEL/ENV).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", invoke_without_command=True)
events_app = typer.Typer(help="Events in the outbox.", no_args_is_help=True)


@params_app.command("get")
def params_get(name: str, version: Optional[int] = typer.Option(None, "--version"), as_json: bool = JSON_OPTION) -> None:
    """A parameter's latest value, or the given version."""
    with client() as c:
        p = c.parameter(name, version)
    if as_json:
        print_json(p)
        return
    v = p["value"]
    console.print(f"{p['name']} (parameter version {p['version']}, {p['created_at'][:19]} by {p['created_by']})")
    for key in sorted(v):
        console.print(f"  {key}: {v[key]}")


@params_app.command("history")
def params_history(name: str, as_json: bool = JSON_OPTION) -> None:
    """Every version of a parameter, oldest first."""
    with client() as c:
        history = c.parameter_history(name)
    if as_json:
        print_json(history)
        return
    console.print(history_table(name, history))


def history_table(name: str, history: Sequence[Any]) -> Table:
    table = Table("param version", "model version", "approved envs", "approved by", "change", "at",
                  title=name, title_justify="left")
    for p in history:
        v = p["value"]
        table.add_row(str(p["version"]), str(v.get("version")), ", ".join(v.get("approved_envs", [])),
                      ", ".join(v.get("approved_by", [])), str(v.get("change", "")), p["created_at"][:19])
    return table


@audit_app.callback()
def audit_list(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model"),
    limit: int = typer.Option(100, "--limit"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Audit entries, oldest first (`signoff audit verify` checks the chain)."""
    if ctx.invoked_subcommand is not None:
        return
    with client() as c:
        entries = c.audit(model=model, limit=limit)
    if as_json:
        print_json(entries)
        return
    table = Table("id", "at", "actor", "action", "subject")
    for e in entries:
        table.add_row(str(e["id"]), e["at"][:19], e["actor"], e["action"], e["subject"])
    console.print(table)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Optional[list[Path]] = typer.Option(None, "--checkpoint", help="A signed checkpoint kept elsewhere "
                                                    "(`signoff audit checkpoint`); repeatable."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute the hash chain, check it against signed checkpoints, and check every live pointer and
    latest parameter value against it; exit 1 naming each discrepancy."""
    given = signing_cmds.read_checkpoints(list(checkpoint or []))
    with client() as c:
        report = c.verify_audit(checkpoints=given or None)
    if as_json:
        print_json(report)
        if not report["ok"]:
            raise typer.Exit(1)
        return
    for warning in report.get("warnings", []):
        typer.echo(f"warning: {warning['check']}: {warning['message']}", err=True)
    if report["ok"]:
        console.print(f"audit chain ok: {report['checked']} entries verified, "
                      f"{report.get('checkpoints', 0)} checkpoints, live pointers and parameters match")
    else:
        if report["first_broken"] is not None:
            typer.echo(f"audit chain BROKEN at entry {report['first_broken']}: {report['reason']}", err=True)
        for problem in report.get("problems", []):
            if problem["check"] != "chain":
                typer.echo(f"{problem['check']}: {problem['message']}", err=True)
    if not report["ok"]:
        raise typer.Exit(1)


@events_app.command("list")
def events_list(type: Optional[str] = typer.Option(None, "--type"), limit: int = typer.Option(100, "--limit"),
                as_json: bool = JSON_OPTION) -> None:
    """Events in the outbox (CloudEvents), oldest first."""
    with client() as c:
        evs = c.events(type=type, limit=limit)
    if as_json:
        print_json(evs)
        return
    table = Table("seq", "time", "type", "subject")
    for e in evs:
        table.add_row(str(e["seq"]), e["event"]["time"][:19], e["event"]["type"], e["event"]["subject"])
    console.print(table)


# Signing the chain's head lives with the other signing commands.
audit_app.command("checkpoint")(signing_cmds.audit_checkpoint)
