"""A background thread that applies `[retention]` next to every worker (services/retention.py)."""

from __future__ import annotations

import logging
import threading

from signoff.bootstrap import Context, retention_policy
from signoff.services import retention

log = logging.getLogger("signoff.retention")


class Pruner:
    # The first run comes soon after start rather than a whole interval later: workers that are
    # restarted more often than the interval would otherwise never prune.
    FIRST_RUN_AFTER = 60.0

    def __init__(self, ctx: Context, *, interval: float, first_run_after: float | None = None) -> None:
        self.ctx, self.interval = ctx, interval
        self.first = min(interval, self.FIRST_RUN_AFTER if first_run_after is None else first_run_after)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prune(self) -> retention.PruneReport:
        return retention.prune(uow_factory=self.ctx.uow_without_dispatch, clock=self.ctx.clock,
                               policy=retention_policy(self.ctx.settings))

    def start(self) -> Pruner:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="signoff-pruner", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        wait = self.first
        while not self._stop.wait(wait):
            wait = self.interval
            try:
                report = self.prune()
                if any(report.deleted.values()):
                    log.info("pruned %s", ", ".join(f"{k} {v}" for k, v in report.deleted.items() if v))
            except Exception:
                log.exception("retention prune failed")
