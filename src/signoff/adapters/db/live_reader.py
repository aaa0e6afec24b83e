"""The resolve hot path: one primary-key read on a per-thread DBAPI connection.

Resolve is what every inference pipeline calls, so it skips the ORM, the engine's pool and
SQLAlchemy's result processing (together nearly all of what a Core query costs here) and
runs a statement SQLAlchemy compiled once for the dialect. The connection is in autocommit, so
each read sees the latest committed state. On PostgreSQL, ``live_cache.CachedLiveReader`` puts
a notification-invalidated cache in front of it; ``reads`` counts the round trips either way.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select

from signoff.adapters.db.prepared import Compiled
from signoff.adapters.db.tables import LiveRow, ModelRow
from signoff.domain.models import LiveVersion

_LIVE = LiveRow.__table__.c
_COLUMNS = [
    _LIVE.model_name, _LIVE.env, _LIVE.number, _LIVE.artifact_uri, _LIVE.digest, _LIVE.flavor,
    _LIVE.approved_by, _LIVE.approved_at, _LIVE.approved_envs, _LIVE.request_id, _LIVE.parameter_version,
]


class LiveReader:
    """Reads on connections of its own, taken from and returned to a small free list.

    The connections are detached from the engine's pool: they are in autocommit mode, and a
    pooled one would go back to the pool that way (say, when the thread that held it ended)
    and hand a later unit of work a connection in which BEGIN never happens.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._idle: list[Any] = []
        self._closed = False
        self._lock = threading.Lock()
        # JSON and time columns are converted by get() itself (_json, _when), hence raw results.
        live = select(*_COLUMNS).where(_LIVE.model_name == bindparam("m"), _LIVE.env == bindparam("e"))
        self._live = Compiled(live, engine.dialect, raw_results=True)
        models = ModelRow.__table__.c
        self._model = Compiled(select(models.id).where(models.name == bindparam("m")), engine.dialect)
        self.reads = 0  # database round trips (approximate under threads): how a cache proves itself

    def _checkout(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = self.engine.raw_connection()
        if self.engine.dialect.name != "sqlite":
            driver = conn.driver_connection
            if driver is None:  # only a closed connection has none; this one was just opened
                raise RuntimeError("the database driver returned a closed connection")
            driver.autocommit = True
        conn.detach()
        return conn

    def _fetch(self, compiled: Compiled, values: dict[str, Any]) -> Any:
        self.reads += 1
        for attempt in (1, 2):
            conn = self._checkout()
            try:
                cur = conn.cursor()
                try:
                    cur.execute(compiled.sql, compiled.params(values))
                    row = cur.fetchone()
                finally:
                    cur.close()
            except Exception:
                # A dropped connection (database restarted): the idle ones are likely dead too.
                self._discard([conn, *self._drain()])
                if attempt == 2:
                    raise
                continue
            with self._lock:
                keep = not self._closed
                if keep:
                    self._idle.append(conn)
            if not keep:
                self._discard([conn])
            return row
        return None

    def _drain(self) -> list[Any]:
        with self._lock:
            idle, self._idle = self._idle, []
        return idle

    @staticmethod
    def _discard(conns: list[Any]) -> None:
        for conn in conns:
            with suppress(Exception):  # already broken, or closing anyway
                conn.close()

    def get(self, model: str, env: str) -> LiveVersion | None:
        row = self._fetch(self._live, {"m": model, "e": env})
        if row is None:
            return None
        return LiveVersion(
            model=row[0], env=row[1], version=row[2], artifact_uri=row[3], digest=row[4], flavor=row[5],
            approved_by=_json(row[6]), approved_at=_when(row[7]), approved_envs=_json(row[8]),
            request_id=row[9], parameter_version=row[10],
        )

    def model_exists(self, model: str) -> bool:
        return self._fetch(self._model, {"m": model}) is not None

    def invalidate(self, models: Iterable[str]) -> None:
        """These models' live pointers moved (nothing is cached here; see live_cache)."""

    def invalidate_all(self) -> None:
        """Anything may have changed (nothing is cached here; see live_cache)."""

    def close(self) -> None:
        """Close the idle connections; one in use now is closed when its read ends."""
        with self._lock:
            self._closed = True
        self._discard(self._drain())


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _when(value: Any) -> datetime:
    when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
