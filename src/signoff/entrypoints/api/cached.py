"""A value for `/metrics` that is too costly to compute on every scrape.

The first scrape computes it; afterwards a scrape gets the last value at once, and when that is
older than the time to live one background thread computes a new one (stale while
revalidating), so a slow count never makes a scrape slow or piles up behind concurrent scrapes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("signoff.metrics")


class Cached(Generic[T]):
    def __init__(self, compute: Callable[[], T], *, ttl: float, name: str = "metrics") -> None:
        self.compute, self.ttl, self.name = compute, ttl, name
        self._value: T | None = None
        self._at = 0.0
        self._lock = threading.Lock()
        self._refreshing = False

    def get(self) -> T:
        """The value: computed now only the first time (or always with a ttl of 0)."""
        if self.ttl <= 0:
            return self.compute()
        with self._lock:
            value, stale = self._value, time.monotonic() - self._at > self.ttl
            if value is not None and stale and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name=f"signoff-{self.name}", daemon=True).start()
        if value is not None:
            return value
        return self._refresh_now()

    def _refresh_now(self) -> T:
        value = self.compute()
        with self._lock:
            self._value, self._at = value, time.monotonic()
        return value

    def _refresh(self) -> None:
        try:
            self._refresh_now()
        except Exception:  # the last value stays; the next stale scrape tries again
            log.warning("refreshing %s failed", self.name, exc_info=True)
        finally:
            with self._lock:
                self._refreshing = False
