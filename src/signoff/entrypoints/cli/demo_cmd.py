"""`signoff demo`."""

from __future__ import annotations

import typer

from signoff.entrypoints.cli._common import console


def register_commands(app: typer.Typer) -> None:
    @app.command()
    def demo() -> None:
        """Run the whole dev → prod sign-off story in a temporary database."""
        from signoff.demo_story import run_demo

        run_demo(console.print, console.print)
