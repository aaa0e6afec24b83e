"""`signoff demo`: the scripted story in the terminal (registered on the CLI by `register_commands`)."""

from __future__ import annotations

import typer


def demo() -> None:
    """Run the whole dev → prod sign-off story in a temporary database."""
    # Imported here, not at the top: the CLI package imports this module while it registers its
    # commands, so a top-level import of it would be circular when this module is imported first.
    from signoff.demo.server import command_hint
    from signoff.demo.story import run_demo
    from signoff.entrypoints.cli._common import console

    run_demo(console.print, console.print)
    console.print("\n[bold]That story ran in a throw-away database[/], deleted now: none of it is in the "
                  "demo server's ./.signoff/, which starts with version 1 waiting for approval in dev.\n"
                  f"The web UI with its own lasting data: {command_hint()} server --demo (or make run)")


def register_commands(app: typer.Typer) -> None:
    app.command()(demo)
