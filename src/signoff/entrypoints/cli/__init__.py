"""The `signoff` command. Errors become one line on stderr and their class's exit code
(`SignoffError.exit_code`, signoff/errors.py)."""

from __future__ import annotations

import sys

import typer

from signoff.entrypoints import startup
from signoff.entrypoints.cli import _common
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


def exit_code_for(exc: SignoffError) -> int:
    return exc.exit_code


def _register_commands() -> None:
    from signoff.entrypoints.cli import admin_cmds, records_cmds, registry_cmds, demo_cmd

    registry_cmds.register_commands(app)
    records_cmds.register_commands(app)
    admin_cmds.register_commands(app)
    demo_cmd.register_commands(app)

    from signoff.entrypoints.cli import server_cmd, tokens_cmds

    server_cmd.register_commands(app)
    tokens_cmds.register_commands(app)

    from signoff.entrypoints.cli import infer_cmd, lifecycle_cmds

    infer_cmd.register_commands(app)
    lifecycle_cmds.register_commands(app)

    from signoff.entrypoints.cli import deliveries_cmds, rules_cmds, worker_cmd

    rules_cmds.register_commands(app)
    deliveries_cmds.register_commands(app)
    worker_cmd.register_commands(app)

    from signoff.entrypoints.cli import mlflow_cmds

    mlflow_cmds.register_commands(app)
    from signoff.entrypoints.cli import aws_keys_cmds

    aws_keys_cmds.register_commands(app)
    from signoff.entrypoints.cli import prune_cmd

    prune_cmd.register_commands(app)


_register_commands()


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
    except Exception as exc:  # a bug: one line pointing at the traceback, never the traceback itself
        ref, where = _common.record_crash(exc)
        _common.err_console.print(f"error: unexpected {type(exc).__name__} (ref {ref}); the details are in {where}",
                                  markup=False)
        sys.exit(EXIT_INTERNAL)
