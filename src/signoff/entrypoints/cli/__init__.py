"""The `signoff` command. Errors become one line on stderr and their class's exit code
(`SignoffError.exit_code`, signoff/errors.py)."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from signoff._extras import missing_extra
from signoff.entrypoints import startup
from signoff.entrypoints.cli import _common
from signoff.entrypoints.cli._common import exit_code_for  # noqa: F401  (its home before)
from signoff.errors import SignoffError

app = typer.Typer(
    name="signoff",
    help="Model registry with human sign-off: register, approve, promote, resolve.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish (and PowerShell)
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from signoff import __version__

        typer.echo(f"signoff {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    config: str = typer.Option(None, "--config", envvar="SIGNOFF_CONFIG", help="Path to signoff.toml."),
    database_url: str = typer.Option(None, "--db", help="Database URL (overrides $SIGNOFF_DATABASE_URL)."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    _common.state.config = config
    _common.state.database_url = database_url


# Each module holds its commands in a module-level Typer app; unnamed ones add top-level commands.
# The order here is the order of `signoff --help` (commands first, then groups, as before).
from signoff.demo.command import demo_app  # noqa: E402
from signoff.entrypoints.cli import (  # noqa: E402  (the apps need `app`'s callback state first)
    admin_cmds,
    aws_keys_cmds,
    deliveries_cmds,
    infer_cmd,
    lifecycle_cmds,
    mlflow_cmds,
    prune_cmd,
    records_cmds,
    registry_cmds,
    rules_cmds,
    server_cmd,
    signing_cmds,
    tokens_cmds,
    worker_cmd,
)

for sub_app, name in (
    (registry_cmds.registry_app, None),
    (signing_cmds.signing_app, None),
    (demo_app, None),
    (server_cmd.server_app, None),
    (infer_cmd.infer_app, None),
    (lifecycle_cmds.lifecycle_app, None),
    (worker_cmd.worker_app, None),
    (prune_cmd.prune_app, None),
    (records_cmds.params_app, "params"),
    (records_cmds.audit_app, "audit"),
    (signing_cmds.keys_app, "keys"),
    (records_cmds.events_app, "events"),
    (admin_cmds.users_app, "users"),
    (admin_cmds.db_app, "db"),
    (tokens_cmds.tokens_app, "tokens"),
    (rules_cmds.rules_app, "rules"),
    (deliveries_cmds.deliveries_app, "deliveries"),
    (mlflow_cmds.mlflow_app, "mlflow"),
    (aws_keys_cmds.aws_keys_app, "aws-keys"),
):
    app.add_typer(sub_app, name=name)


# sysexits.h EX_SOFTWARE: a bug, not the user's input or a server's answer.
EXIT_INTERNAL = 70


def main() -> None:
    startup.starting()  # the collector is off until a server or worker is ready (startup.py)
    try:
        # The program name fixes completion's variable (_SIGNOFF_COMPLETE) whatever runs us
        # (the console script, `python -m signoff`).
        app(standalone_mode=True, prog_name="signoff")
    except SignoffError as exc:
        _common.err_console.print(f"error: {exc.message}", markup=False)
        sys.exit(exit_code_for(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    except ImportError as exc:
        found = missing_extra(exc, "this command")
        if found is None:
            _crash(exc)
        _common.err_console.print(f"error: {found.message}", markup=False)
        sys.exit(1)
    except Exception as exc:
        _crash(exc)


def _crash(exc: BaseException) -> NoReturn:
    # A bug: one line pointing at the traceback, never the traceback itself.
    ref, where = _common.record_crash(exc)
    _common.err_console.print(f"error: unexpected {type(exc).__name__} (ref {ref}); the details are in {where}",
                              markup=False)
    sys.exit(EXIT_INTERNAL)
