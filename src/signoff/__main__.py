"""The `signoff` command's launcher (`python -m signoff` and the console script).

It imports no more than the core install has, so that without the `cli` extra the answer is one
line saying how to get it rather than a traceback.
"""

import sys


def main() -> None:
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError as exc:
        from signoff._extras import missing_extra

        found = missing_extra(exc, "the signoff command", default="cli")
        print(f"error: {found.message if found else exc}", file=sys.stderr)
        sys.exit(1)
    from signoff.entrypoints.cli import main as run

    run()


if __name__ == "__main__":
    main()
