"""`signoff mlflow sync [--watch]`: poll the MLflow registry instead of (or besides) webhooks."""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any, Optional

import typer

from signoff.entrypoints import startup
from signoff.entrypoints.cli import _common
from signoff.entrypoints.cli._common import console, print_json


def _summary_line(summary: dict[str, Any]) -> str:
    taken = ", ".join(f"{t['model']} v{t['version']}" for t in summary["taken_in"]) or "none"
    reverted = ", ".join(f"{r['model']}@{r['alias']} {r['reverted_from']}→{r['mlflow_version']}" if "alias" in r
                         else f"{r['model']} v{r['mlflow_version']} tag {r['reverted']}"
                         for r in summary["reverted"] if "reverted" in r or "alias" in r) or "none"
    return f"{summary['models']} governed model(s); taken in: {taken}; aliases reverted: {reverted}"


mlflow_app = typer.Typer(help="The MLflow bridge (\\[mlflow] in signoff.toml; docs/mlflow.md).", no_args_is_help=True)


@mlflow_app.command("sync")
def sync(
    watch: bool = typer.Option(False, "--watch", help="Keep polling every \\[mlflow] poll_interval until stopped."),
    interval: Optional[float] = typer.Option(None, "--interval", min=0.05, help="Seconds between polls (--watch)."),
    as_json: bool = _common.JSON_OPTION,
) -> None:
    """Take in new MLflow versions and check every governed alias against signoff; `--watch` repeats."""
    from signoff.bootstrap import bootstrap, mlflow_bridge
    from signoff.config import load_settings
    from signoff.errors import ServiceUnavailable

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {"database_url": _common.state.database_url} if _common.state.database_url else {}
    ctx = bootstrap(load_settings(_common.state.config, **overrides))
    bridge = mlflow_bridge(ctx)
    stop = threading.Event()
    if watch:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    every = interval or bridge.settings.poll_interval
    try:
        startup.ready()
        while True:
            started = time.monotonic()
            try:
                summary = bridge.sync()
            except ServiceUnavailable as exc:
                if not watch:
                    raise
                _common.err_console.print(f"warning: {exc.message}; retrying", markup=False)
            else:
                if as_json:
                    print_json(summary)
                elif summary["taken_in"] or summary["reverted"] or summary["errors"] or not watch:
                    console.print(_summary_line(summary), markup=False)
                for error in summary["errors"]:
                    _common.err_console.print(f"warning: {error}", markup=False)
            if not watch or stop.wait(max(0.0, every - (time.monotonic() - started))):
                break
    finally:
        bridge.rest.close()
        ctx.close()
