"""SQLite: resolve answered from this process's memory while the database has not changed.

SQLite has no LISTEN/NOTIFY, but it says cheaply whether anything was committed:
``PRAGMA data_version`` on a connection changes whenever any *other* connection — in this
process or another — has committed since it last asked. A dedicated probe connection asks
before every read (a few microseconds, no query plan, no table read); while the answer is the
same, nothing anywhere in the file changed, so a cached answer is exactly what the database
would say. Any commit empties the whole cache: coarse, but never stale, and resolve between
writes (what inference pipelines do) is served without touching a table.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from enum import Enum

from sqlalchemy import Engine

from signoff.adapters.db.live_reader import LiveReader
from signoff.domain.models import LiveVersion


class _Missing(Enum):
    # A cached None is an answer ("nothing live there"); absence is this.
    MISSING = 0


_MISSING = _Missing.MISSING


class DataVersionLiveReader(LiveReader):
    def __init__(self, engine: Engine, path: str) -> None:
        super().__init__(engine)
        self._probe = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._probe_lock = threading.Lock()
        self._seen: int | None = None
        self._cache: dict[tuple[str, str], LiveVersion | None] = {}

    def _data_version(self) -> int:
        with self._probe_lock:
            return int(self._probe.execute("PRAGMA data_version").fetchone()[0])

    def get(self, model: str, env: str) -> LiveVersion | None:
        version = self._data_version()
        if version != self._seen:
            self._cache, self._seen = {}, version
        cache = self._cache
        hit = cache.get((model, env), _MISSING)
        if hit is not _MISSING:
            return hit
        # Read after the probe: the row is at least as new as `version`. Kept only if nothing
        # was committed meanwhile; if something was, the next probe differs and empties the cache.
        live = super().get(model, env)
        if self._seen == version:
            cache[(model, env)] = live
        return live

    def invalidate(self, models: Iterable[str]) -> None:
        self.invalidate_all()

    def invalidate_all(self) -> None:
        self._cache, self._seen = {}, None

    def close(self) -> None:
        super().close()
        with self._probe_lock:
            self._probe.close()
