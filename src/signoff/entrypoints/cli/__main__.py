"""`python -m signoff.entrypoints.cli` runs the `signoff` command."""

from signoff.entrypoints.cli import main

main()
