"""`signoff demo`."""

from __future__ import annotations

import typer

from signoff.entrypoints.cli._common import console


# Top-level commands, merged into `signoff` itself (cli/__init__.py).
demo_app = typer.Typer()


@demo_app.command()
def demo() -> None:
    """Run the whole dev → prod sign-off story in a temporary database."""
    from signoff.demo_story import run_demo
    from signoff.entrypoints.demo_server import command_hint

    run_demo(console.print, console.print)
    console.print("\n[bold]That story ran in a throw-away database[/], deleted now: none of it is in the "
                  "demo server's ./.signoff/, which starts with version 1 waiting for approval in dev.\n"
                  f"The web UI with its own lasting data: {command_hint()} server --demo (or make run)")
