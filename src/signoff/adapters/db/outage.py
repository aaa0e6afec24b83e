"""Database errors that mean "not reachable right now", as a ServiceUnavailable without internals.

The driver's own text names the host, port and user; it belongs in the server's log, never in
an answer. Errors here come wrapped by SQLAlchemy, or raw from the driver where a statement ran
on its cursor (adapters/db/prepared.py).
"""

from __future__ import annotations

import sqlite3
import sys

from sqlalchemy import exc as sa_exc

from signoff.errors import ServiceUnavailable

# Seconds a client should wait before trying again (the Retry-After header).
RETRY_AFTER_SECONDS = 5



def _driver_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own "cannot reach it" errors. psycopg's are asked for only once psycopg is
    loaded (an engine on PostgreSQL loads it): a process on SQLite never imports it (~9 MB)."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return (sqlite3.OperationalError,)
    return (sqlite3.OperationalError, psycopg.OperationalError, psycopg.InterfaceError)


def unavailable_from(exc: BaseException) -> ServiceUnavailable | None:
    """The clean refusal for `exc` when it says the database cannot be used now; else None."""
    outage = (isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError))
              or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)
              or isinstance(exc, _driver_errors()))
    if not outage:
        return None
    return ServiceUnavailable("the database is unavailable; try again in a few seconds",
                              details={"retry_after": RETRY_AFTER_SECONDS})
