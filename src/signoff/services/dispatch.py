"""Dispatch: fan committed events out to the rules' targets, run them, record every attempt.

The same code serves a `signoff worker` process, a worker thread inside a server, and the
inline dispatcher of embedded use (CLI, SDK, demo), which drains right after a commit.

Two short transactions per batch keep locks brief:
1. fan-out and claim: take pending outbox events in order, match them against the enabled
   rules, insert one delivery per (event, rule, target) — the unique idempotency key makes
   this repeatable — and mark the events dispatched; then lease due deliveries (and ones whose
   lease ran out) to this worker;
2. record: store each attempt and move the delivery on (succeeded, retry later, dead).
The targets run between the two, outside any transaction. Built-in actions instead run inside
the transaction that records them, so they take effect once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from signoff.domain.deliveries import DeliveryState, Job, Outcome, RetryPolicy
from signoff.domain.rules import (
    TRANSACTIONAL_TYPES,
    CompiledRule,
    compile_rules,
    join_target,
    parse_target,
    plan,
    split_target,
)
from signoff.domain.workflow import Workflow
from signoff.errors import ServiceUnavailable, SignoffError
from signoff.services.actions import ACTIONS
from signoff.services.ports import Clock, UnitOfWork
from signoff.services.rules import load_rules

log = logging.getLogger("signoff.dispatch")

Runner = Callable[[Job, "float | None"], Outcome]
Result = tuple[Job, Outcome, datetime, float]


class Dispatcher:
    """Moves events to targets. Thread-safe: worker threads may share one instance."""

    def __init__(
        self, *, uow_factory: Callable[[], UnitOfWork], workflow: Workflow, clock: Clock,
        runners: dict[str, Runner], retry: RetryPolicy, lease_seconds: float, owner: str,
        batch_size: int = 100, timeout_cap: float | None = None, on_close: Callable[[], None] | None = None,
    ) -> None:
        self.uow_factory, self.workflow, self.clock = uow_factory, workflow, clock
        self.runners, self.retry, self.owner = runners, retry, owner
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size, self.timeout_cap = batch_size, timeout_cap
        self._on_close = on_close
        self._lock = threading.Lock()
        self._rules: list[CompiledRule] = []
        self._fingerprint: tuple[int, int] | None = None
        # Deliveries leased and not yet reported: the only leases renewal may extend. One whose
        # outcome was lost (its batch died, its recording failed) must expire and be retaken,
        # not be kept 'running' for as long as this process lives.
        self._in_hand: set[int] = set()

    # -- rules cache ---------------------------------------------------------------------

    def invalidate(self) -> None:
        """Forget the compiled rules (they are also reloaded whenever the rules table changes)."""
        with self._lock:
            self._fingerprint = None

    def _compiled(self, uow: UnitOfWork) -> list[CompiledRule]:
        fingerprint = uow.rules.fingerprint()
        with self._lock:
            if fingerprint != self._fingerprint:
                self._rules = compile_rules(load_rules(uow=uow))
                self._fingerprint = fingerprint
            return self._rules

    # -- the three steps -----------------------------------------------------------------

    def fan_out(self, limit: int | None = None) -> int:
        """Turn pending outbox events into deliveries; returns how many events it took."""
        uow = self.uow_factory()
        with uow:
            taken = self._fan_out(uow, limit or self.batch_size, self.clock.now())
            if taken:
                uow.commit()
        return taken

    def claim(self, limit: int | None = None, *, types: frozenset[str] | None = None,
              exclude: frozenset[str] | None = None) -> list[Job]:
        """Lease due deliveries to this dispatcher's owner; abandoned ones are taken over."""
        uow = self.uow_factory()
        with uow:
            jobs, changed = self._claim(uow, limit or self.batch_size, self.clock.now(), types, exclude)
            if changed:
                uow.commit()
        return jobs

    def fan_out_and_claim(self, limit: int | None = None) -> tuple[int, list[Job]]:
        """Both in one transaction: an idle worker's path from a commit to the wire."""
        uow = self.uow_factory()
        with uow:
            now = self.clock.now()
            taken = self._fan_out(uow, self.batch_size, now)
            jobs, changed = self._claim(uow, limit or self.batch_size, now, None, None)
            if taken or changed:
                uow.commit()
        return taken, jobs

    def _fan_out(self, uow: UnitOfWork, limit: int, now: datetime) -> int:
        events = uow.deliveries.pending_events(limit)
        if not events:
            return 0
        rules = self._compiled(uow)
        plans = [(e, plan(e.payload, rules)) for e in events]
        keys = [p.key for _, planned in plans for p in planned]
        seen = uow.deliveries.existing_keys(keys) if keys else set()
        rows = []
        for e, planned in plans:
            for p in planned:
                if p.key not in seen:
                    seen.add(p.key)
                    public, secrets = split_target(p.target.model_dump(mode="json", exclude_none=True))
                    rows.append({
                        "idempotency_key": p.key, "event_seq": e.id, "event_id": e.event_id,
                        "event_type": e.type, "event_time": e.time, "rule_name": p.rule, "target_index": p.index,
                        "target_type": p.target.type, "target": public, "target_secrets": secrets or None,
                        "state": DeliveryState.PENDING.value, "attempts": 0, "replays": 0, "next_attempt_at": now,
                        "created_at": now, "updated_at": now})
        uow.deliveries.add_many(rows)
        uow.deliveries.mark_dispatched([e.id for e in events], now)
        return len(events)

    def _claim(self, uow: UnitOfWork, limit: int, now: datetime, types: frozenset[str] | None,
               exclude: frozenset[str] | None) -> tuple[list[Job], bool]:
        rows = uow.deliveries.claimable(now, limit, types=types, exclude=exclude)
        jobs: list[Job] = []
        lost, settled = [], []
        for row in rows:
            if row.state == DeliveryState.RUNNING.value:  # its worker died mid-attempt
                error = f"lease of {row.lease_owner} expired before it reported; the worker presumably died"
                lost.append(_attempt_row(row.id, row.attempts, row.lease_owner or "?", row.updated_at,
                                         (now - row.updated_at).total_seconds() * 1000, Outcome("lost", None, error)))
                if row.attempts >= self.retry.max_attempts:
                    settled.append(self._settlement(row.id, row.attempts, Outcome.final(error), now))
                    continue
            try:
                target = parse_target(join_target(row.target, row.target_secrets))
            except SignoffError as exc:
                settled.append(self._settlement(row.id, row.attempts, Outcome.final(
                    f"invalid target: {exc.message}"), now))
                continue
            jobs.append(Job(row.id, row.idempotency_key, row.attempts + 1, row.rule_name, target, row.payload,
                            row.event_seq))
        uow.deliveries.add_attempts(lost)
        uow.deliveries.settle(settled)
        uow.deliveries.lease([j.id for j in jobs], self.owner, now + self.lease, now)
        with self._lock:
            self._in_hand.update(j.id for j in jobs)
        return jobs, bool(rows)

    def execute(self, jobs: list[Job]) -> None:
        """Run claimed jobs; results are recorded in batches well before the lease runs out.
        Whatever happens, the jobs leave this worker's hands: one not recorded is retaken when
        its lease expires (the same idempotency key, an attempt marked lost)."""
        pending: list[Result] = []
        flushed_at = time.monotonic()
        try:
            for job in jobs:
                if job.target_type in TRANSACTIONAL_TYPES:
                    self._run_transactional(job)
                    continue
                pending.append(self._run_external(job))
                if time.monotonic() - flushed_at > self.lease.total_seconds() / 3:
                    self._record(pending)
                    pending, flushed_at = [], time.monotonic()
            if pending:
                self._record(pending)
        finally:
            with self._lock:
                self._in_hand.difference_update(j.id for j in jobs)

    def step(self, limit: int | None = None) -> int:
        """One round of fan-out, claim and run; returns the amount of work found (0 = idle)."""
        events, jobs = self.fan_out_and_claim(limit)
        self.execute(jobs)
        return events + len(jobs)

    def drain(self, *, budget: float = 10.0, max_rounds: int = 100) -> int:
        """Process everything due now, built-in actions first; external targets within `budget` s."""
        deadline = time.monotonic() + budget
        done = 0
        for _ in range(max_rounds):
            uow = self.uow_factory()
            with uow:
                now = self.clock.now()
                events = self._fan_out(uow, self.batch_size, now)
                jobs, changed = self._claim(uow, self.batch_size, now, TRANSACTIONAL_TYPES, None)
                if not jobs and time.monotonic() < deadline:
                    jobs, more = self._claim(uow, self.batch_size, now, None, TRANSACTIONAL_TYPES)
                    changed = changed or more
                if events or changed:
                    uow.commit()
            if not jobs and not events:
                break
            self.execute(jobs)
            done += len(jobs)
        return done

    def has_work(self) -> bool:
        uow = self.uow_factory()
        with uow:
            return bool(uow.deliveries.has_work(self.clock.now()))

    def renew(self) -> int:
        """Extend the leases of the deliveries in hand; a live worker calls this well within the lease."""
        with self._lock:
            ids = sorted(self._in_hand)
        if not ids:
            return 0
        uow = self.uow_factory()
        with uow:
            n = int(uow.deliveries.renew(ids, self.owner, self.clock.now() + self.lease))
            if n:
                uow.commit()
            return n

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()

    # -- running and recording -----------------------------------------------------------

    def _run_external(self, job: Job) -> Result:
        started, t0 = self.clock.now(), time.perf_counter()
        runner = self.runners.get(job.target_type)
        if runner is None:
            outcome = Outcome.final(f"no runner for target type {job.target_type!r}")
        else:
            try:
                outcome = runner(job, self.timeout_cap)
            except Exception as exc:
                log.exception("target runner %s failed on delivery %s", job.target_type, job.id)
                outcome = Outcome.retry(f"{type(exc).__name__}: {exc}")
        return job, outcome, started, (time.perf_counter() - t0) * 1000

    def _run_transactional(self, job: Job) -> None:
        started, t0 = self.clock.now(), time.perf_counter()
        try:
            uow = self.uow_factory()
            with uow:
                if not uow.deliveries.owned([job.id], self.owner):
                    return  # someone took it over; they will run it
                result = ACTIONS[job.target_type](uow=uow, workflow=self.workflow, job=job)
                outcome = Outcome.ok(**result)
                self._write(uow, [(job, outcome, started, (time.perf_counter() - t0) * 1000)], {job.id})
                uow.commit()
            return
        except ServiceUnavailable as exc:
            outcome = Outcome.retry(exc.message)
        except SignoffError as exc:
            outcome = Outcome.final(f"{exc.code}: {exc.message}")
        except Exception as exc:
            log.info("built-in action %s on delivery %s failed: %s", job.target_type, job.id, exc)
            outcome = Outcome.retry(f"{type(exc).__name__}: {exc}")
        self._record([(job, outcome, started, (time.perf_counter() - t0) * 1000)])

    def _record(self, results: list[Result]) -> None:
        # A recording transaction can lose a deadlock or a connection; the outcomes are still in
        # hand, so try once more before leaving them to lease expiry (and a repeated delivery).
        for attempt in (1, 2):
            try:
                uow = self.uow_factory()
                with uow:
                    owned = uow.deliveries.owned([job.id for job, *_ in results], self.owner)
                    self._write(uow, results, owned)
                    uow.commit()
                break
            except Exception:
                if attempt == 2:
                    raise
                log.warning("recording %d delivery outcomes failed; trying once more", len(results), exc_info=True)
        for job, outcome, *_ in results:
            if outcome.kind != "ok":
                log.info("delivery %s (%s, rule %s) attempt %s: %s", job.id, job.target_type, job.rule,
                         job.attempt, outcome.error)

    def _write(self, uow: UnitOfWork, results: list[Result], owned: set[int]) -> None:
        """Every attempt goes in the history; only deliveries still ours move on (a lost lease
        means another worker took over, and its outcome is the one that counts)."""
        now = self.clock.now()
        uow.deliveries.add_attempts([_attempt_row(job.id, job.attempt, self.owner, started, ms, outcome)
                                     for job, outcome, started, ms in results])
        uow.deliveries.settle([self._settlement(job.id, job.attempt, outcome, now)
                               for job, outcome, *_ in results if job.id in owned])

    def _settlement(self, delivery_id: int, attempt: int, outcome: Outcome, now: datetime) -> dict[str, Any]:
        state, delay = self.retry.after(attempt, outcome)
        retry = state is DeliveryState.PENDING
        return {"id": delivery_id, "state": state.value, "now": now, "status_code": outcome.status_code,
                "error": outcome.error if outcome.kind != "ok" else None,
                "next": now + timedelta(seconds=delay or 0) if retry else None,
                "finished": None if retry else now, "result": outcome.result}


def _attempt_row(delivery_id: int, number: int, worker: str, started: datetime, ms: float,
                 outcome: Outcome) -> dict[str, Any]:
    return {"delivery_id": delivery_id, "number": number, "worker": worker, "started_at": started,
            "duration_ms": ms, "outcome": outcome.kind, "status_code": outcome.status_code, "error": outcome.error}
