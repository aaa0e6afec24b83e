"""`signoff infer`: batch inference with the version live in an environment, then its report."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from signoff.entrypoints.cli._common import (
    AS_OPTION,
    JSON_OPTION,
    client,
    console,
    err_console,
    print_json,
)


# Top-level commands, merged into `signoff` itself (cli/__init__.py).
infer_app = typer.Typer()


@infer_app.command()
def infer(
    model: str,
    env: str = typer.Option(..., "--env"),
    data: str = typer.Option(..., "--data", help="CSV or Parquet file (path or URL)."),
    target: str | None = typer.Option(None, "--target", help="Column with the true values: metrics."),
    output: str | None = typer.Option(None, "--output", help="Write the rows with a prediction column."),
    batch_size: int = typer.Option(100_000, "--batch-size", min=1),
    flavor: str | None = typer.Option(None, "--flavor", help="Override the recorded flavor."),
    no_report: bool = typer.Option(False, "--no-report", help="Score only; send no inference report."),
    actor: str | None = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Score DATA with the version of MODEL live in ENV and report metrics, rows, duration and profile."""
    from signoff.inference import run_batch

    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with client(actor) as c, Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(f"{model} in {env}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_batch(c, model, env, data, target=target, batch_size=batch_size, output=output,
                           flavor=flavor, progress=advance, report=not no_report)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"scored {result.rows:,} rows with {model} v{result.version} in {env} "
                  f"in {result.seconds:.2f}s" + (f"; wrote {output}" if output else ""))
    if result.metrics:
        table = Table("metric", "value", title="metrics", title_justify="left")
        for name, value in result.metrics.items():
            table.add_row(name, f"{value:.4f}")
        console.print(table)
    report = result.report
    if report is None:
        return
    drifted = report.get("drifted_features") or []
    if drifted:
        console.print(f"[yellow]drift detected[/] in {len(drifted)} feature(s): {', '.join(drifted)}")
    promotion = report.get("promotion_request")
    if promotion:
        gates = "; ".join(f"{g['gate']}: {'pass' if g['passed'] else 'FAIL'}" for g in promotion["gate_results"])
        console.print(f"opened promotion request {promotion['id']} → {promotion['env']}"
                      + (f" ({gates})" if gates else ""))
