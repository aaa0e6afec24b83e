"""Shared CLI plumbing: the acting client, output as tables or JSON, key=value parsing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable

import typer
from rich.console import Console

from signoff.errors import (
    InvalidInput,
    SignoffError,
)
from signoff.sdk._base import BaseClient
from signoff.sdk._records import jsonable

def exit_code_for(exc: SignoffError) -> int:
    """The process exit code of an error: each error class carries its own (signoff/errors.py)."""
    return exc.exit_code


console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    """Per-invocation options from the top-level callback (config file, database)."""

    config: str | None = None
    database_url: str | None = None


state = State()

AS_OPTION = typer.Option(None, "--as", help="Acting user (embedded mode); defaults to $SIGNOFF_USER.")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def remote_url() -> str | None:
    url = os.environ.get("SIGNOFF_URL")
    return url if url and url.startswith(("http://", "https://")) else None


def client(actor: str | None = None, *, owner: bool = False) -> BaseClient:
    """The one client every command uses: remote when $SIGNOFF_URL is an http(s) URL, else embedded.

    Remote, it sends $SIGNOFF_TOKEN (and `actor` as X-Signoff-As). Embedded, it needs a named
    database (`--db`, $SIGNOFF_DATABASE_URL) or a config file and acts as `actor` (or
    $SIGNOFF_USER; without one it only reads), or with `owner` as the database's owner (what
    `users`, `tokens` and `aws-keys` do locally). Raises InvalidInput, AuthenticationFailed.
    """
    from signoff.sdk._client import Client, embedded_settings

    url = remote_url()
    if url:
        return Client(url, os.environ.get("SIGNOFF_TOKEN"), as_user=actor)
    settings = embedded_settings(config=state.config, database_url=state.database_url)
    if owner:
        return Client(None, settings=settings, as_owner=True)
    return Client(None, actor=actor, settings=settings)


# Options whose values stay out of crash logs.
SECRET_OPTIONS = frozenset({"--password", "--token", "--secret"})


def crash_dir() -> Path:
    """Where unexpected errors leave their tracebacks: $SIGNOFF_HOME/logs, else ~/.local/state/signoff/logs."""
    home = os.environ.get("SIGNOFF_HOME")
    if home:
        return Path(home) / "logs"
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "signoff" / "logs"


def record_crash(exc: BaseException) -> tuple[str, str]:
    """Write `exc`'s traceback to a private file; returns (reference, path) for a one-line message."""
    import datetime
    import secrets
    import tempfile
    import traceback

    ref = secrets.token_hex(4)
    args = [("***" if prev in SECRET_OPTIONS else arg) for prev, arg in zip(["", *sys.argv[1:]], sys.argv[1:])]
    text = (f"signoff CLI error {ref} at {datetime.datetime.now(datetime.UTC).isoformat()}\n"
            f"argv: {' '.join(args)}\n\n" + "".join(traceback.format_exception(exc)))
    for directory in (crash_dir(), Path(tempfile.gettempdir())):
        path = directory / f"signoff-error-{ref}.log"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # tracebacks may hold local values
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            return ref, str(path)
        except OSError:
            continue
    return ref, "(no writable log directory)"


def parse_pairs(items: Iterable[str] | None, what: str, numeric: bool = False) -> dict[str, Any]:
    """`k=v` options into a dict; metrics must be numbers, metadata values may be JSON or text."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--{what} expects key=value, got {item!r}")
        if numeric:
            try:
                out[key] = float(value)
            except ValueError:
                raise InvalidInput(f"metric {key!r} must be a number, got {value!r}", details={"metric": key}) from None
        else:
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
    return out


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=jsonable))


def fmt_metrics(metrics: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in (metrics or {}).items())
