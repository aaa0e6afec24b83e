"""Keep credentials that travel in URLs out of the access log.

A review link carries its signed token in the query string (`/review/7?t=…`): whoever reads
the log could follow it. The API middleware's access line (`signoff.access`) takes its target
from `logged_target`; uvicorn's own access logger, should it be turned on, gets a filter that
cuts the query string of those paths before any handler formats the record.
"""

from __future__ import annotations

import logging

# Paths whose query strings carry credentials: emailed review links; the sign-in page (and the
# single sign-on start) that a review link sends a signed-out approver to, with the link in
# `next`; the single sign-on callback's authorization code.
SECRET_QUERY_PREFIXES = ("/review", "/signin", "/auth/")


def logged_target(path: str, query_string: bytes) -> str:
    """The request target as the access log shows it: the query string kept, except on paths
    whose query strings carry credentials, where only a `?…` says there was one."""
    if not query_string:
        return path
    if path.startswith(SECRET_QUERY_PREFIXES):
        return path + "?…"
    return path + "?" + query_string.decode("latin-1")


class DropSecretQueries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, full_path, http_version, status)
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, sep, _ = args[2].partition("?")
            if sep and path.startswith(SECRET_QUERY_PREFIXES):
                record.args = (*args[:2], path + "?…", *args[3:])
        return True


def install() -> None:
    """Attach the filter to uvicorn's access logger once per process."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropSecretQueries) for f in logger.filters):
        logger.addFilter(DropSecretQueries())
