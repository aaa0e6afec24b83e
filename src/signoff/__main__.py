"""`python -m signoff` runs the `signoff` command."""

from signoff.entrypoints.cli import main

main()
