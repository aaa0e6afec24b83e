"""A background thread of every worker: signed audit checkpoints and scheduled verification.

Every `[audit] checkpoint_every` a checkpoint of the chain head is signed and kept (and sent to
whatever rules match `signoff.audit.checkpoint`); every `[audit] verify_every` the whole audit
is verified and a failure emits `signoff.audit.verification_failed`. Both look at the latest
stored checkpoint or result first, so several workers do the work about once per interval.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from signoff.bootstrap import Context
from signoff.domain.timespec import parse_duration
from signoff.services import audit_anchor

log = logging.getLogger("signoff.audit")
WORKER = "signoff:worker"


class AuditScheduler:
    def __init__(self, ctx: Context, *, tick: float = 30.0) -> None:
        self.ctx, self.tick = ctx, tick
        self.checkpoint_every = parse_duration(ctx.settings.audit.checkpoint_every)
        self.verify_every = parse_duration(ctx.settings.audit.verify_every)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> dict[str, Any]:
        """Checkpoint and verify if their intervals have passed; returns what was done."""
        done: dict[str, Any] = {}
        now = self.ctx.clock.now()
        last = audit_anchor.last_checkpoint_at(uow=self.ctx.uow())
        if self.ctx.keys is not None and (last is None or now - last >= self.checkpoint_every):
            done["checkpoint"] = audit_anchor.create_checkpoint(uow=self.ctx.uow(), keys=self.ctx.keys)
        result = audit_anchor.last_verification(uow=self.ctx.uow())
        if result is None or now - result["at"] >= self.verify_every:
            report = audit_anchor.verify_audit(uow=self.ctx.uow(), keys=self.ctx.keys, by=WORKER, notify=True,
                                               workflow=self.ctx.workflow)
            done["verification"] = report
            if not report["ok"]:
                log.error("audit verification failed: %s", report["reason"])
        return done

    def start(self) -> AuditScheduler:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="signoff-audit", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_once()
            except Exception:
                log.exception("audit checkpoint or verification failed to run")
