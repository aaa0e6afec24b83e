"""A per-process resolve cache for PostgreSQL, dropped by LISTEN/NOTIFY and bounded in time.

API processes are stateless, so each keeps its own copy of what it resolved. Three rules keep
that copy honest:

- Every commit that moves a live pointer sends ``NOTIFY signoff_live, '<model>'`` in its own
  transaction (see ``SqlAlchemyUnitOfWork.live_moved``); a ``Listener`` here drops that model's
  entries when it arrives. The committing process also drops them itself right after the
  commit (``Context.uow``), so a client reads its own writes without waiting for the echo.
- No entry is served older than ``ttl`` seconds (``[server] resolve_cache_seconds``), whatever
  happened to notifications: a change made behind signoff's back, a lost notification or a
  silently dead listener delay a change by at most that long.
- While the listener is not connected the cache is bypassed (every resolve reads), and every
  connect or disconnect empties it, since notifications may have been missed in between.

A fill that raced an invalidation is not stored: each invalidation bumps an epoch, and a
read is kept only if the epoch it started under is still current.

SQLite stays uncached (``bootstrap`` builds a plain ``LiveReader``): its read is already a cheap
local one, and several processes may share one database file (a CLI next to a server) with no
channel to tell each other, so a cache could only be invalidated within one process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from sqlalchemy import Engine

from signoff.adapters.db.live_reader import LiveReader
from signoff.adapters.db.notify import LIVE_CHANNEL, Listener
from signoff.domain.models import LiveVersion

_Entry = tuple[LiveVersion | None, float]


class CachedLiveReader(LiveReader):
    def __init__(self, engine: Engine, *, ttl: float, name: str = "signoff-resolve-cache") -> None:
        super().__init__(engine)
        self.ttl = ttl
        self.name = name
        self.hits = 0
        self._entries: dict[str, dict[str, _Entry]] = {}
        self._models: dict[str, float] = {}  # model names known to exist, with when we learned it
        self._epoch = 0
        self._cache_lock = threading.Lock()
        self._listener: Listener | None = None

    @property
    def listener(self) -> Listener:
        """The LISTEN connection, started on first use (one-shot CLI commands never open it)."""
        listener = self._listener
        if listener is None:
            with self._cache_lock:
                if self._listener is None:
                    self._listener = Listener(
                        self.engine, [LIVE_CHANNEL], self._notified, name=self.name,
                        on_connect=self.invalidate_all, on_disconnect=self.invalidate_all,
                        keepalive=max(1.0, min(5.0, self.ttl)),
                    ).start()
                listener = self._listener
        return listener

    def get(self, model: str, env: str) -> LiveVersion | None:
        if self._closed:
            return super().get(model, env)
        listener = self.listener
        if not listener.connected:
            return super().get(model, env)
        now = time.monotonic()
        entry = self._entries.get(model, {}).get(env)
        if entry is not None and now - entry[1] < self.ttl:
            self.hits += 1
            return _copy(entry[0])
        epoch = self._epoch
        live = super().get(model, env)
        with self._cache_lock:
            if epoch == self._epoch and listener.connected:
                self._entries.setdefault(model, {})[env] = (live, now)
        return _copy(live)

    def model_exists(self, model: str) -> bool:
        # Only "yes" is remembered: a model registered a moment ago must not read as unknown.
        now = time.monotonic()
        known = self._models.get(model)
        if known is not None and now - known < self.ttl:
            return True
        exists = super().model_exists(model)
        if exists:
            self._models[model] = now
        return exists

    def invalidate(self, models: Iterable[str]) -> None:
        with self._cache_lock:
            self._epoch += 1
            for model in models:
                self._entries.pop(model, None)

    def invalidate_all(self) -> None:
        with self._cache_lock:
            self._epoch += 1
            self._entries = {}

    def _notified(self, channel: str, payload: str) -> None:
        if payload:
            self.invalidate([payload])
        else:
            self.invalidate_all()

    def close(self) -> None:
        super().close()  # first: a get() from now on reads without starting a listener
        if self._listener is not None:
            self._listener.stop()


def _copy(live: LiveVersion | None) -> LiveVersion | None:
    """Callers get their own lists, so no caller can change what the next one is handed."""
    if live is None:
        return None
    return LiveVersion(
        model=live.model, env=live.env, version=live.version, artifact_uri=live.artifact_uri, digest=live.digest,
        flavor=live.flavor, approved_by=list(live.approved_by), approved_at=live.approved_at,
        approved_envs=list(live.approved_envs), request_id=live.request_id,
        parameter_version=live.parameter_version,
    )
