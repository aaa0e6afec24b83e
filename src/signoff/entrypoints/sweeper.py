"""A background thread that expires overdue approval requests and sends reminders.

Runs next to a worker (`signoff server --demo`, `signoff worker`); the sweep itself is safe to
run from several processes at once (see services/sweeps.py).
"""

from __future__ import annotations

import logging
import threading

from signoff.bootstrap import Context
from signoff.services.sweeps import sweep_requests

log = logging.getLogger("signoff.sweeper")


class Sweeper:
    def __init__(self, ctx: Context, *, interval: float = 60.0) -> None:
        self.ctx, self.interval = ctx, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> dict[str, list[int]]:
        return sweep_requests(uow=self.ctx.uow(), workflow=self.ctx.workflow)

    def start(self) -> Sweeper:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="signoff-sweeper", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                done = self.sweep()
                if done["expired"] or done["reminded"]:
                    log.info("expired requests %s, reminded %s", done["expired"], done["reminded"])
            except Exception:
                log.exception("request sweep failed")
