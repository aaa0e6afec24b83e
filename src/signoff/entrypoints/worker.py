"""The event worker: a plain loop that dispatches events to rules' targets until stopped.

`signoff worker` runs one in the foreground; `signoff server --demo` runs one in-process,
where commits wake it at once (``Context.listeners``). On PostgreSQL every commit that writes
events sends ``NOTIFY signoff_outbox`` and the worker LISTENs on a connection of its own
(adapters/db/notify.py), so other processes' commits wake it too; it then polls only as a
fallback, every ``[events] listen_poll_interval`` (1 s), and fast again (``poll_interval``)
while that connection is down. On SQLite it polls every ``poll_interval`` (50 ms): a
read-only probe when idle, so idle workers cost the database almost nothing.

Concurrency is threads sharing one Dispatcher (one owner name, one lease renewer): each
thread claims its own batch, so N threads run up to N deliveries at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from types import FrameType

from signoff.adapters.db.notify import OUTBOX_CHANNEL, Listener, supported
from signoff.bootstrap import Context, build_dispatcher

log = logging.getLogger("signoff.worker")


class Worker:
    def __init__(self, ctx: Context, *, concurrency: int = 1, poll_interval: float | None = None,
                 name: str | None = None, batch_size: int | None = None,
                 sweep_interval: float | None = 60.0) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.ctx = ctx
        self.concurrency = concurrency
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        events = ctx.settings.events
        self.poll_interval = poll_interval if poll_interval is not None else events.poll_interval
        # Listening never makes a worker look less often than it would without.
        self.listen_poll_interval = max(self.poll_interval, events.listen_poll_interval)
        self.listener: Listener | None = None
        if events.listen and supported(ctx.engine):
            self.listener = Listener(ctx.engine, [OUTBOX_CHANNEL], lambda channel, payload: self._wake.set(),
                                     on_connect=self.notify, on_disconnect=self.notify,
                                     name=f"signoff-worker:{self.name}")
        self.batch_size = batch_size or max(1, min(events.batch_size, 50))
        self.dispatcher = build_dispatcher(ctx, owner=self.name, max_connections=max(8, concurrency * 2))
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        # Expiry and reminders of approval requests ride along with every worker: no extra process to run.
        from signoff.entrypoints.sweeper import Sweeper

        self.sweeper = Sweeper(ctx, interval=sweep_interval) if sweep_interval else None
        from signoff.entrypoints.audit_schedule import AuditScheduler

        self.audit = AuditScheduler(ctx) if sweep_interval else None  # checkpoints, scheduled verification
        # `[retention]` is applied by workers too, every `interval` (none: only `signoff prune`).
        from signoff.domain.timespec import parse_duration
        from signoff.entrypoints.pruner import Pruner

        every = ctx.settings.retention.interval
        self.pruner = Pruner(ctx, interval=parse_duration(every).total_seconds()) if every else None

    def notify(self) -> None:
        """Something was committed: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> Worker:
        if self._threads:
            return self
        self._stop.clear()
        self.ctx.listeners.append(self.notify)
        if self.listener is not None:
            self.listener.start()  # (re)connects wake the loop: notifications may have been missed
        for i in range(self.concurrency):
            self._spawn(self._loop, f"signoff-worker-{i}")
        self._spawn(self._renew_leases, "signoff-worker-leases")
        if self.sweeper is not None:
            self.sweeper.start()
        if self.audit is not None:
            self.audit.start()
        if self.pruner is not None:
            self.pruner.start()
        log.info("worker %s started (%d threads)", self.name, self.concurrency)
        return self

    def _spawn(self, target: Callable[[], object], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the deliveries in hand, then return; unfinished leases simply expire."""
        self._stop.set()
        self._wake.set()
        if self.notify in self.ctx.listeners:
            self.ctx.listeners.remove(self.notify)
        if self.listener is not None:
            self.listener.stop()
        if self.sweeper is not None:
            self.sweeper.stop(timeout)
        if self.audit is not None:
            self.audit.stop(timeout)
        if self.pruner is not None:
            self.pruner.stop(timeout)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self.dispatcher.close()
        log.info("worker %s stopped", self.name)

    def run(self) -> None:
        """Run in the foreground until SIGINT or SIGTERM."""

        def _graceful(signum: int, frame: FrameType | None) -> None:
            self._stop.set()
            self._wake.set()

        previous = {s: signal.signal(s, _graceful) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self) -> None:
        idle = woken = False
        while not self._stop.is_set():
            try:
                # Idle and not told about a commit: a read-only probe first, so polling never
                # takes SQLite's write lock; told, or busy: straight to work.
                if idle and not woken and not self.dispatcher.has_work():
                    busy = 0
                else:
                    busy = self.dispatcher.step(self.batch_size)
            except Exception:
                log.exception("worker %s: dispatch round failed", self.name)
                busy = 0
            idle, woken = not busy, False
            if not busy:
                woken = self._wake.wait(self.idle_wait())
                self._wake.clear()

    def idle_wait(self) -> float:
        """How long an idle loop sleeps unless woken: long while notifications can wake it."""
        if self.listener is not None and self.listener.connected:
            return self.listen_poll_interval
        return self.poll_interval

    def _renew_leases(self) -> None:
        interval = max(0.05, self.dispatcher.lease.total_seconds() / 3)
        while not self._stop.wait(interval):
            try:
                self.dispatcher.renew()
            except Exception:
                log.exception("worker %s: lease renewal failed", self.name)
