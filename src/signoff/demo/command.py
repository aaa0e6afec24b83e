"""`signoff demo`: the scripted story in the terminal (a top-level command of `signoff`)."""

from __future__ import annotations

import typer

# Top-level commands, merged into `signoff` itself (cli/__init__.py).
demo_app = typer.Typer()


@demo_app.command()
def demo() -> None:
    """Run the whole dev → prod sign-off story in a temporary database."""
    # Imported here, not at the top: the story pulls in the server and the classifier, which
    # `signoff --help` has no use for.
    from signoff.demo.server import command_hint
    from signoff.demo.story import run_demo
    from signoff.entrypoints.cli._common import console

    run_demo(console.print, console.print)
    console.print("\n[bold]That story ran in a throw-away database[/], deleted now: none of it is in the "
                  "demo server's ./.signoff/, which starts with version 1 waiting for approval in dev.\n"
                  f"The web UI with its own lasting data: {command_hint()} server --demo (or make run)")
