"""`signoff deliveries`: what happened to each (event, rule, target); dead letters and replay."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from signoff.entrypoints.cli._common import AS_OPTION, JSON_OPTION, client, console, print_json

deliveries_app = typer.Typer(help="Deliveries of events to rule targets: states, attempts, dead letters.",
                             no_args_is_help=True)

STATE_STYLE = {"pending": "[yellow]pending[/]", "running": "[cyan]running[/]", "succeeded": "[green]succeeded[/]",
               "dead": "[red]dead[/]"}


@deliveries_app.command("list")
def deliveries_list(
    state: Optional[str] = typer.Option(None, "--state", help="pending, running, succeeded or dead."),
    rule: Optional[str] = typer.Option(None, "--rule"),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    cursor: Optional[int] = typer.Option(None, "--after", help="Only deliveries with a larger id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Deliveries oldest first; `--state dead` lists the dead letters."""
    with client() as c:
        items = c.deliveries(state=state, rule=rule, cursor=cursor, limit=limit)
    if as_json:
        print_json(items)
        return
    table = Table("id", "state", "rule", "target", "event", "attempts", "last error")
    for d in items:
        table.add_row(str(d["id"]), STATE_STYLE.get(d["state"], d["state"]), d["rule"], d["target_type"],
                      f"{d['event_type']} {d['event_id'][:8]}", str(d["attempts"]), (d["last_error"] or "")[:60])
    console.print(table)


@deliveries_app.command("show")
def deliveries_show(delivery_id: int, as_json: bool = JSON_OPTION) -> None:
    """One delivery and every attempt made."""
    with client() as c:
        d = c.delivery(delivery_id)
    if as_json:
        print_json(d)
        return
    console.print(f"delivery {d['id']}: {STATE_STYLE.get(d['state'], d['state'])} — rule {d['rule']} → "
                  f"{d['target_type']}, event {d['event_type']} {d['event_id']}")
    console.print(f"  idempotency key {d['idempotency_key']}", markup=False)
    table = Table("#", "started", "worker", "ms", "outcome", "status", "error")
    for a in d["attempt_log"]:
        table.add_row(str(a["number"]), (a["started_at"] or "")[:23], a["worker"], f"{a['duration_ms']:.1f}",
                      a["outcome"], str(a["status_code"] or ""), (a["error"] or "")[:80])
    console.print(table)


@deliveries_app.command("replay")
def deliveries_replay(delivery_id: int, actor: Optional[str] = AS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Queue a dead delivery again, with a fresh set of attempts and the same idempotency key."""
    with client(actor) as c:
        d = c.replay_delivery(delivery_id)
    if as_json:
        print_json(d)
    else:
        console.print(f"delivery {d['id']} queued again (replay {d['replays']}); now {d['state']}")
