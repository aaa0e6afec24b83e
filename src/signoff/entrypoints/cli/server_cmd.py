"""`signoff server`: the HTTP API under uvicorn."""

from __future__ import annotations

import os
from enum import Enum
from typing import TYPE_CHECKING, Optional

import typer

from signoff.entrypoints import startup
from signoff.entrypoints.cli import _common

if TYPE_CHECKING:  # the server is imported by the factory itself, not with the CLI
    from fastapi import FastAPI


class LogLevel(str, Enum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


class LogFormat(str, Enum):
    text = "text"
    json = "json"


def app_from_env() -> FastAPI:
    """uvicorn's factory (one call per worker process): settings from the file and $SIGNOFF_*."""
    startup.starting()  # `--workers N` processes start here, not in the CLI
    from signoff.bootstrap import bootstrap
    from signoff.entrypoints import logs

    logs.configure_from_env()  # a `--workers N` process starts with logging as Python's default
    from signoff.config import load_settings
    from signoff.entrypoints.api.app import create_app

    from signoff.errors import SignoffError

    try:
        settings = load_settings()
        settings.server.require_strong_secret_key()  # also when uvicorn is pointed at this factory directly
        # A server start is when users removed from [users.*] lose their access.
        app = create_app(bootstrap(settings, retire_config_users=True))
        app.state.on_shutdown.insert(0, app.state.ctx.close)
    except SignoffError as exc:  # e.g. migrations to apply: one line, not uvicorn's traceback
        from signoff.entrypoints.cli._common import exit_code_for

        _common.err_console.print(f"error: {exc.message}", markup=False)
        raise SystemExit(exit_code_for(exc)) from None
    ctx = app.state.ctx
    wanted = ctx.settings.server.worker
    if wanted or (wanted is None and not ctx.settings.events.inline):
        from signoff.entrypoints.worker import Worker

        worker = Worker(ctx).start()
        app.state.on_shutdown.append(worker.stop)
    startup.ready()
    return app


def serve(host: str, port: int, workers: int, log_level: str, access_log: bool, log_format: str = "text") -> None:
    import uvicorn

    from signoff.entrypoints import logs

    # Worker processes re-read the configuration; hand them the CLI's choices through the environment.
    if _common.state.config:
        os.environ["SIGNOFF_CONFIG"] = _common.state.config
    if _common.state.database_url:
        os.environ["SIGNOFF_DATABASE_URL"] = _common.state.database_url
    os.environ.update(SIGNOFF_LOG_LEVEL=log_level, SIGNOFF_LOG_FORMAT=log_format,
                      SIGNOFF_ACCESS_LOG="1" if access_log else "0")
    logs.configure_from_env()
    _common.err_console.print(f"signoff API on http://{host}:{port} (OpenAPI: /openapi.json, docs: /docs)",
                              markup=False)
    # log_config=None: uvicorn keeps its hands off the handlers configured above; its access
    # log stays off because the API middleware writes one with request ids (logs.py).
    uvicorn.run("signoff.entrypoints.cli.server_cmd:app_from_env", factory=True, host=host, port=port,
                workers=workers if workers > 1 else None, log_level=log_level, access_log=False,
                log_config=None, proxy_headers=False, server_header=False)


# Top-level commands, merged into `signoff` itself (cli/__init__.py).
server_app = typer.Typer()


@server_app.command()
def server(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    log_level: Optional[LogLevel] = typer.Option(None, "--log-level", case_sensitive=False,
                                                 help="[default: info; warning with --demo]"),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format",
                                         help="json: one object per line, for log shippers."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request (with its request id)."),
    demo: bool = typer.Option(False, "--demo", help="Demo mode: SQLite in ./.signoff, in-process worker and "
                              "mail catcher (/mailbox), demo users and a model waiting for approval."),
) -> None:
    """Serve the HTTP API (REST under /api/v1, /healthz, /readyz, /metrics) and the web UI."""
    if demo:
        from signoff.demo.server import serve_demo

        serve_demo(host, port, log_level=log_level.value if log_level else "warning", say=lambda line: print(line, flush=True))  # no wrapping
        return
    from signoff.config import load_settings

    # Checked here, before uvicorn starts, so a weak key is one line and exit 2, not a worker crash.
    overrides = {"database_url": _common.state.database_url} if _common.state.database_url else {}
    load_settings(_common.state.config, **overrides).server.require_strong_secret_key()
    serve(host, port, workers, log_level.value if log_level else "info", access_log, log_format.value)


@server_app.command("secret-key")
def secret_key() -> None:
    """Print a fresh random value for `[server] secret_key` (SIGNOFF_SERVER__SECRET_KEY)."""
    from signoff.config import new_secret_key

    typer.echo(new_secret_key())
