"""Commands of the workflow: register, versions, status, approve, reject, promote, resolve, report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import typer
from rich.table import Table

from signoff.entrypoints.cli._common import (
    AS_OPTION,
    JSON_OPTION,
    client,
    console,
    err_console,
    fmt_metrics,
    parse_pairs,
    print_json,
)
from signoff.entrypoints.cli.lifecycle_cmds import lifecycle_extras

# The board's one vocabulary (BoardState in domain/models.py), as every door words it.
BOARD_STYLE = {
    "not_requested": "[dim]not requested[/]",
    "waiting_for_approval": "[yellow]waiting for approval[/]",
    "approved": "[green]approved[/]",
    "rejected": "[red]rejected[/]",
    "revoked": "[magenta]revoked[/]",
    "blocked": "[red]blocked by an earlier rejection[/]",
}


def board_table(model: str, versions: Sequence[Any]) -> Table:
    envs = list(versions[0]["stages"]) if versions else []
    table = Table(title=f"{model}: versions × environments", title_justify="left")
    table.add_column("version", justify="right")
    for env in envs:
        table.add_column(env)
    table.add_column("registered by")
    table.add_column("metrics")
    for v in versions:
        cells = []
        for env in envs:
            state = v["board"][env]
            cell = BOARD_STYLE.get(state, state)
            if env in v["live_in"]:
                cell += " [bold cyan]● live[/]"
            cells.append(cell)
        table.add_row(str(v["version"]), *cells, v["registered_by"], fmt_metrics(v["metrics"]))
    return table


# Top-level commands, merged into `signoff` itself (cli/__init__.py).
registry_app = typer.Typer()


@registry_app.command()
def register(
    model: str = typer.Argument(..., help="Model name, e.g. churn."),
    artifact: str = typer.Option(..., "--artifact", help="Artifact URI or path."),
    metric: Optional[list[str]] = typer.Option(None, "--metric", help="Training metric k=v (repeatable)."),
    meta: Optional[list[str]] = typer.Option(None, "--meta", help="Metadata k=v (repeatable)."),
    run_id: Optional[str] = typer.Option(None, "--run-id"),
    code_commit: Optional[str] = typer.Option(None, "--code-commit"),
    dataset_hash: Optional[str] = typer.Option(None, "--dataset-hash"),
    flavor: Optional[str] = typer.Option(None, "--flavor", help="sklearn, onnx or mlflow (default: detected)."),
    digest: Optional[str] = typer.Option(
        None, "--digest", help="sha256:<64 hex> of the artifact, when signoff cannot read it to compute it."),
    owner_group: Optional[str] = typer.Option(None, "--owner-group"),
    reference: Optional[str] = typer.Option(
        None, "--reference", help="Training data (CSV/Parquet): the reference profile for drift."),
    store: Optional[bool] = typer.Option(
        None, "--store/--no-store",
        help="Copy the artifact into the artifact root by SHA-256 (default: when it exists here)."),
    actor: Optional[str] = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register the next version of MODEL; its first environment's approvers are asked."""
    metrics = parse_pairs(metric, "metric", numeric=True)
    metadata = parse_pairs(meta, "meta")
    extra = lifecycle_extras(reference=reference, store=store)
    with client(actor) as c:
        v = c.register(model, artifact, metrics=metrics, metadata=metadata, run_id=run_id,
                       code_commit=code_commit, dataset_hash=dataset_hash, flavor=flavor, owner_group=owner_group,
                       digest=digest, **extra)
    if as_json:
        print_json(v)
    else:
        console.print(f"registered [bold]{v['model']}[/] version [bold]{v['version']}[/] "
                      f"({v['artifact_uri']}); awaiting approval in {next(iter(v['stages']))}")
        if v.get("digest"):
            console.print(f"  artifact {v['digest']} (flavor {v.get('flavor') or 'unknown'})"
                          + ("; reference profile stored for drift" if reference else ""))
        else:
            err_console.print("[yellow]warning[/]: signoff cannot read this artifact and no --digest was given: "
                              "nobody can check which bytes get approved, so only environments with "
                              "require_digest = false will approve it")


@registry_app.command()
def versions(model: str, as_json: bool = JSON_OPTION, limit: int = typer.Option(100, "--limit")) -> None:
    """List versions of MODEL, newest first."""
    with client() as c:
        vs = c.versions(model, limit=limit)
    if as_json:
        print_json(vs)
        return
    table = Table("version", "registered", "by", "artifact", "metrics", "live in")
    for v in vs:
        table.add_row(str(v["version"]), (v["registered_at"] or "")[:19], v["registered_by"], v["artifact_uri"],
                      fmt_metrics(v["metrics"]), ", ".join(v["live_in"]))
    console.print(table)


@registry_app.command()
def status(model: str, as_json: bool = JSON_OPTION) -> None:
    """The board of MODEL: each version's status in each environment, live marked."""
    with client() as c:
        vs = c.status(model)
    if as_json:
        print_json(vs)
    else:
        console.print(board_table(model, vs))


def _decide(model: str, version: int, env: str, verdict: str, comment: str, actor: str | None, as_json: bool,
            sign: bool = False, meaning: str | None = None) -> None:
    # An electronic signature: the password is asked for now, never taken from the command line.
    password = typer.prompt("Password (to sign)", hide_input=True, err=True) if sign else None
    with client(actor) as c:
        request = c.open_request(model, version, env)
        r = c.decide(request["id"], verdict, comment, password=password, meaning=meaning)
    if as_json:
        print_json(r)
        return
    who = r["decisions"][-1]["actor"]
    if r["state"] == "approved":
        console.print(f"[green]approved[/] {model} v{version} in {env} by {who}; it is live in {env} now")
    elif r["state"] == "rejected":
        console.print(f"[red]rejected[/] {model} v{version} in {env} by {who}: {comment}")
    else:
        console.print(f"recorded {verdict} by {who} on request {r['id']}; still needs {r['missing']}")


@registry_app.command()
def approve(
    model: str, version: int, env: str = typer.Option(..., "--env"),
    comment: str = typer.Option("", "--comment"), actor: Optional[str] = AS_OPTION, as_json: bool = JSON_OPTION,
    sign: bool = typer.Option(False, "--sign", help="Sign electronically: asks for your password."),
    meaning: Optional[str] = typer.Option(None, "--meaning", help="The signature's meaning (one of the policy's)."),
) -> None:
    """Approve VERSION of MODEL in ENV (its open request)."""
    _decide(model, version, env, "approve", comment, actor, as_json, sign, meaning)


@registry_app.command()
def reject(
    model: str, version: int, env: str = typer.Option(..., "--env"),
    comment: str = typer.Option(..., "--comment", help="Why (required)."),
    actor: Optional[str] = AS_OPTION, as_json: bool = JSON_OPTION,
    sign: bool = typer.Option(False, "--sign", help="Sign electronically: asks for your password."),
) -> None:
    """Reject VERSION of MODEL in ENV; a comment is required."""
    _decide(model, version, env, "reject", comment, actor, as_json, sign)


@registry_app.command()
def promote(
    model: str, version: int, env: str = typer.Option(..., "--env"),
    reason: str = typer.Option("", "--reason"), actor: Optional[str] = AS_OPTION, as_json: bool = JSON_OPTION,
    break_glass: bool = typer.Option(
        False, "--break-glass", help="Emergency: make it live in ENV without its approval (emergency group)."),
    justification: str = typer.Option("", "--justification", help="Why break-glass is needed (required)."),
) -> None:
    """Open the approval request for VERSION in ENV (it must be Approved in the environment before)."""
    if break_glass:
        from signoff.entrypoints.cli.lifecycle_cmds import run_break_glass

        run_break_glass(model, version, env, justification, actor, as_json)
        return
    with client(actor) as c:
        r = c.request_promotion(model, version, env, reason=reason)
    if as_json:
        print_json(r)
        return
    console.print(f"opened request {r['id']}: {model} v{version} → {env}; approvers: "
                  f"{', '.join(r['policy']['approvers'])}")
    for g in r["gate_results"]:
        mark = "[green]pass[/]" if g["passed"] else "[red]FAIL[/]"
        console.print(f"  gate {g['gate']}: {mark} {g.get('reason', '')}")


@registry_app.command()
def resolve(model: str, env: str = typer.Option(..., "--env"), as_json: bool = JSON_OPTION) -> None:
    """The version of MODEL live in ENV."""
    with client() as c:
        live = c.resolve(model, env)
    if as_json:
        print_json(live)
    else:
        console.print(f"{model} in {env}: version [bold]{live['version']}[/] {live['artifact_uri']} "
                      f"(approved by {', '.join(live['approved_by'])} at {live['approved_at'][:19]})")


@registry_app.command()
def report(
    model: str, version: int, env: str = typer.Option(..., "--env"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", help="Inference metric k=v (repeatable)."),
    rows: int = typer.Option(0, "--rows"), actor: Optional[str] = AS_OPTION, as_json: bool = JSON_OPTION,
) -> None:
    """Report inference metrics for VERSION in ENV; opens the next environment's request."""
    metrics = parse_pairs(metric, "metric", numeric=True)
    with client(actor) as c:
        r = c.report_inference(model, version, env, metrics=metrics, rows=rows)
    if as_json:
        print_json(r)
        return
    console.print(f"reported {fmt_metrics(r['metrics'])} for {model} v{version} in {env}")
    if r.get("promotion_request"):
        p = r["promotion_request"]
        console.print(f"opened promotion request {p['id']} → {p['env']}")


@registry_app.command("requests")
def list_requests(
    state: Optional[str] = typer.Option(None, "--state"), env: Optional[str] = typer.Option(None, "--env"),
    model: Optional[str] = typer.Option(None, "--model"), as_json: bool = JSON_OPTION,
) -> None:
    """Approval requests, filtered by state, environment or model."""
    with client() as c:
        rs = c.requests(state=state, env=env, model=model)
    if as_json:
        print_json(rs)
        return
    table = Table("id", "model", "version", "env", "state", "requested by", "needs")
    for r in rs:
        table.add_row(str(r["id"]), r["model"], str(r["version"]), r["env"], r["state"], r["requested_by"],
                      r.get("missing") or "")
    console.print(table)
