"""`signoff worker`: dispatch events to rule targets until stopped."""

from __future__ import annotations

from typing import Optional

import typer

from signoff.entrypoints import startup
from signoff.entrypoints.cli import _common
from signoff.entrypoints.cli._common import console
from signoff.entrypoints.cli.server_cmd import LogFormat, LogLevel


# Top-level commands, merged into `signoff` itself (cli/__init__.py).
worker_app = typer.Typer()


@worker_app.command()
def worker(
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1, max=64, help="Deliveries run at once."),
    poll_interval: Optional[float] = typer.Option(None, "--poll-interval", min=0.001,
                                                  help="Seconds between looks when idle ([events] poll_interval)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every failed attempt (--log-level info)."),
    log_level: LogLevel = typer.Option(LogLevel.warning, "--log-level", case_sensitive=False),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format",
                                         help="json: one object per line, for log shippers."),
) -> None:
    """Claim committed events, match them against the rules, run the targets; Ctrl-C or SIGTERM stops."""
    from signoff.bootstrap import bootstrap
    from signoff.config import load_settings
    from signoff.entrypoints.worker import Worker

    from signoff.entrypoints import logs

    level = "info" if verbose and log_level is LogLevel.warning else log_level.value
    logs.configure(level=level, fmt="json" if log_format is LogFormat.json else "text")
    overrides = {"database_url": _common.state.database_url} if _common.state.database_url else {}
    ctx = bootstrap(load_settings(_common.state.config, **overrides))
    ctx.dispatch_inline = False  # this process is the dispatcher
    try:
        w = Worker(ctx, concurrency=concurrency, poll_interval=poll_interval)
        how = (f"woken by NOTIFY, polling every {w.listen_poll_interval:g}s as a fallback"
               if w.listener is not None else f"polling every {w.poll_interval:g}s")
        console.print(f"signoff worker {w.name}: {concurrency} thread(s), {how}; Ctrl-C stops")
        startup.ready()
        w.run()
    finally:
        ctx.close()
