"""Logging for the long-running processes (`signoff server`, `signoff worker`).

Every line carries a timestamp, the level, the logger's name and the id of the request it was
written for (`-` outside a request): the API middleware sets ``request_id`` for each request
(taking a well-formed ``X-Request-ID`` from the client or a proxy, else making one) and sends it
back in the response, so a client's report, a proxy's log and ours can be matched. The id lives
in a context variable, which Starlette copies into the thread that runs a sync route.
`--log-format json` writes one JSON object per line for log shippers.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from contextvars import ContextVar
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]
request_id: ContextVar[str] = ContextVar("signoff_request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
# What we accept from outside: ids other systems generate (UUIDs, trace ids), nothing that
# could forge a log line or a header.
_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}")


def new_request_id() -> str:
    return os.urandom(8).hex()


def accept_request_id(value: bytes | None) -> str:
    """The client's id if it is well formed, else a new one."""
    if value:
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError:
            return new_request_id()
        if _VALID_ID.fullmatch(text):
            return text
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id (on the handler: every logger's records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def formatter(fmt: LogFormat) -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
    return logging.Formatter(TEXT_FORMAT)


def configure(*, level: str = "info", fmt: LogFormat = "text", access_log: bool = False,
              stream: TextIO | None = None) -> None:
    """One handler on the root logger for this process; uvicorn's loggers propagate to it.
    The access log is the API middleware's (`signoff.access`), written inside the request, so
    its lines carry the request id too; uvicorn's own is left off."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = name != "uvicorn.access"  # replaced by signoff.access
    logging.getLogger("signoff.access").setLevel(logging.INFO if access_log else logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin, every start
    logging.captureWarnings(True)  # warnings.warn lines get the same stamp instead of arriving bare


def configure_from_env() -> None:
    """In a server process uvicorn started: the CLI's choices arrive through the environment."""
    fmt = os.environ.get("SIGNOFF_LOG_FORMAT", "text")
    configure(level=os.environ.get("SIGNOFF_LOG_LEVEL", "info"), fmt="json" if fmt == "json" else "text",
              access_log=os.environ.get("SIGNOFF_ACCESS_LOG") == "1")
