"""Group commit for registrations: one writer thread, the registrations that queued, one commit.

SQLite admits one writer at a time, and on these machines what a registration pays per
transaction (session and BEGIN, the COMMIT writing its ~14 WAL pages, the checkpoints those
bring) costs as much as the registration itself. So the API server hands registrations to this
writer: when they arrive faster than they commit, the ones that queued in the meantime share the
next transaction. Each runs in its own savepoint (UnitOfWork.part): one that is refused is
rolled back alone and answered with its own error, the others commit together, each with its
audit entry and its event, and none is answered before that commit. With no queue a batch is a
single registration; nothing waits for company.

The API uses it only where the request has nothing else to wait for: without inline dispatch
(the request would otherwise wait for its events' rules) and on SQLite (PostgreSQL takes
concurrent writers; see routes/versions.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from signoff.domain.models import ModelVersion
from signoff.domain.workflow import Workflow
from signoff.errors import ServiceUnavailable, SignoffError
from signoff.services.ports import UnitOfWork
from signoff.services.registry import register, register_in

log = logging.getLogger("signoff.registrations")


@dataclass
class _Queued:
    details: dict[str, Any]
    future: Future[ModelVersion]


class RegistrationWriter:
    """Registrations of one process, committed in batches of up to `max_batch` by one thread."""

    def __init__(self, new_uow: Callable[[], UnitOfWork], workflow: Workflow, *, max_batch: int = 32) -> None:
        self.new_uow, self.workflow, self.max_batch = new_uow, workflow, max_batch
        self._queue: queue.SimpleQueue[_Queued | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = self.registrations = 0  # for tests and the curious: how much sharing happened

    def submit(self, **details: Any) -> Future[ModelVersion]:
        """Queue one registration (`registry.register_in`'s details, digest settled); the future holds the new
        version once it is committed, or the error it was refused with."""
        future: Future[ModelVersion] = Future()
        with self._lock:
            if self._closed:
                raise ServiceUnavailable("the server is shutting down; register again in a moment")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="signoff-registrations", daemon=True)
                self._thread.start()
            self._queue.put(_Queued(details, future))
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < self.max_batch:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if queued is None:
                    stop = True
                    break
                batch.append(queued)
            live = [q for q in batch if q.future.set_running_or_notify_cancel()]  # skip abandoned ones
            if live:
                self._commit(live)
            if stop:
                return

    def _commit(self, batch: list[_Queued]) -> None:
        self.batches += 1
        self.registrations += len(batch)
        if len(batch) == 1:
            self._alone(batch[0])
            return
        done: list[tuple[_Queued, ModelVersion]] = []
        try:
            uow = self.new_uow()
            with uow:
                for queued in batch:
                    try:
                        with uow.part():
                            done.append((queued, register_in(uow=uow, workflow=self.workflow, **queued.details)))
                    except SignoffError as exc:  # refused: rolled back alone, answered now
                        queued.future.set_exception(exc)
                uow.commit()
        except Exception:  # the shared transaction failed: each is retried alone below
            log.warning("a batch of %d registrations failed; registering them one by one", len(batch),
                        exc_info=True)
            for queued in batch:
                if not queued.future.done():
                    self._alone(queued)
            return
        for queued, version in done:
            queued.future.set_result(version)

    def _alone(self, queued: _Queued) -> None:
        try:
            # Submitters settle the digest before queueing (it reads the artifact, not the database).
            version = register(uow=self.new_uow(), workflow=self.workflow, digest_checked=True, **queued.details)
        except BaseException as exc:  # the request answers with it; no future is left hanging
            queued.future.set_exception(exc)
        else:
            queued.future.set_result(version)
