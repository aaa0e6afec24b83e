"""Group commit: one writer thread, the units of work that queued, one transaction.

What a write pays per transaction (a session and BEGIN, the COMMIT and its flush to disk, on
SQLite the WAL pages and checkpoints it brings, on PostgreSQL the WAL flush and the audit chain's
lock) costs as much as a registration itself. So the API server hands registrations to this
writer: when they arrive faster than they commit, the ones that queued in the meantime share the
next transaction. Each runs in its own savepoint (UnitOfWork.part): one that is refused is
rolled back alone and answered with its own error, the others commit together, each with its
audit entry and its event, and none is answered before that commit. With no queue a batch is a
single unit of work; nothing waits for company.

A batch takes its work in the order of the keys it was submitted with (the model's name; stable,
so one model's registrations keep their order). Two processes' batches then lock the models they
share in the same order and wait for each other instead of deadlocking; should the shared
transaction fail anyway (a deadlock, a lost connection, a value the database refuses) each unit
is retried alone in its own transaction, so one failure never takes the others with it.

The writer knows nothing of what the work does: bootstrap decides when a process uses one
(`registration_writer`), and the API submits `registry.register_in` to it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from signoff.errors import ServiceUnavailable, SignoffError
from signoff.services.ports import UnitOfWork

T = TypeVar("T")
log = logging.getLogger("signoff.registrations")
Work = Callable[[UnitOfWork], T]


@dataclass
class _Queued(Generic[T]):
    work: Work[T]
    key: str
    future: Future[T]


class GroupCommit(Generic[T]):
    """Units of work of one process, committed in batches of up to `max_batch` by one thread."""

    def __init__(self, new_uow: Callable[[], UnitOfWork], *, max_batch: int = 32,
                 name: str = "signoff-registrations") -> None:
        self.new_uow, self.max_batch, self.name = new_uow, max_batch, name
        self._queue: queue.SimpleQueue[_Queued[T] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = self.submitted = 0  # for /metrics and tests: how much sharing happened

    def submit(self, work: Work[T], *, key: str = "") -> Future[T]:
        """Queue `work(uow)`, run inside a transaction it neither opens nor commits; the future
        holds its result once committed, or the error it was refused with."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise ServiceUnavailable("the server is shutting down; register again in a moment")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._queue.put(_Queued(work, key, future))
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
                self._commit(sorted(live, key=lambda q: q.key))
            if stop:
                return

    def _commit(self, batch: list[_Queued[T]]) -> None:
        self.batches += 1
        self.submitted += len(batch)
        if len(batch) == 1:
            self._alone(batch[0])
            return
        done: list[tuple[_Queued[T], T]] = []
        try:
            uow = self.new_uow()
            with uow:
                for queued in batch:
                    try:
                        with uow.batch_member():
                            done.append((queued, queued.work(uow)))
                    except SignoffError as exc:  # refused: rolled back alone, answered now
                        queued.future.set_exception(exc)
                uow.commit()
        except Exception:  # the shared transaction failed: each is retried alone below
            log.warning("a batch of %d failed; committing them one by one", len(batch), exc_info=True)
            for queued in batch:
                if not queued.future.done():
                    self._alone(queued)
            return
        for queued, result in done:
            queued.future.set_result(result)

    def _alone(self, queued: _Queued[Any]) -> None:
        try:
            uow = self.new_uow()
            with uow:
                result = queued.work(uow)
                uow.commit()
        except BaseException as exc:  # the request answers with it; no future is left hanging
            queued.future.set_exception(exc)
        else:
            queued.future.set_result(result)
