"""Retention: delete operational rows once they are old enough (`signoff prune`, and every
worker on a schedule).

What goes: outbox events fanned out long ago whose deliveries are gone, finished deliveries
(succeeded; dead letters after a longer wait) with their attempts, web sessions long expired,
API tokens long expired or revoked. What never goes: audit entries, decisions, signatures,
approval requests, versions, promotions, inference reports and parameter history — nothing
here can reach them (adapters/db/retention.py has no statement for those tables).

Each batch is one transaction with its own audit entry (`retention.pruned`: what, how many,
older than when), so the deletions themselves stay on the record. Safe to run from several
processes at once: on PostgreSQL batches queue on an advisory lock; on SQLite on the writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from signoff.domain.deliveries import DeliveryState
from signoff.services.ports import Clock, UnitOfWork

ACTOR = "signoff:retention"
KINDS = ("deliveries", "dead_letters", "events", "sessions", "tokens")


@dataclass(frozen=True)
class RetentionPolicy:
    """How old each kind must be before it goes; None keeps it for ever."""

    deliveries: timedelta | None = timedelta(days=30)
    dead_letters: timedelta | None = timedelta(days=90)
    events: timedelta | None = timedelta(days=30)
    sessions: timedelta | None = timedelta(days=7)
    tokens: timedelta | None = timedelta(days=90)
    batch_size: int = 5_000

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        return {kind: now - age for kind in KINDS if (age := getattr(self, kind)) is not None}


@dataclass
class PruneReport:
    cutoffs: dict[str, datetime]
    deleted: dict[str, int]  # deliveries, dead_letters, attempts, events, sessions, tokens
    dry_run: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"dry_run": self.dry_run, "deleted": dict(self.deleted),
                "older_than": {k: v.isoformat() for k, v in self.cutoffs.items()}}


def prune(*, uow_factory: Callable[[], UnitOfWork], clock: Clock, policy: RetentionPolicy,
          dry_run: bool = False) -> PruneReport:
    """Delete (or with `dry_run` count) what the policy lets go; returns counts per kind."""
    cutoffs = policy.cutoffs(clock.now())
    deleted = dict.fromkeys(("deliveries", "dead_letters", "attempts", "events", "sessions", "tokens"), 0)
    report = PruneReport(cutoffs, deleted, dry_run)
    if dry_run:
        with uow_factory() as uow:
            _count(uow, cutoffs, deleted)
        return report
    # Deliveries before events: an event goes only once none of its deliveries is left.
    for kind, state in (("deliveries", DeliveryState.SUCCEEDED.value), ("dead_letters", DeliveryState.DEAD.value)):
        if kind in cutoffs:
            _in_batches(uow_factory, policy.batch_size, kind, cutoffs[kind], deleted, _deliveries_step(state))
    for kind in ("events", "sessions", "tokens"):
        if kind in cutoffs:
            _in_batches(uow_factory, policy.batch_size, kind, cutoffs[kind], deleted, _rows_step(kind))
    return report


Step = Callable[[UnitOfWork, datetime, int], tuple[int, int]]  # (uow, older than, at most) -> (rows, attempts)


def _deliveries_step(state: str) -> Step:
    def step(uow: UnitOfWork, before: datetime, n: int) -> tuple[int, int]:
        return uow.retention.delete_deliveries(state=state, before=before, limit=n)

    return step


def _rows_step(kind: str) -> Step:
    def step(uow: UnitOfWork, before: datetime, n: int) -> tuple[int, int]:
        retention = uow.retention
        delete = {"events": retention.delete_events, "sessions": retention.delete_sessions,
                  "tokens": retention.delete_tokens}[kind]
        return delete(before=before, limit=n), 0

    return step


def _in_batches(uow_factory: Callable[[], UnitOfWork], size: int, kind: str, before: datetime,
                deleted: dict[str, int], step: Step) -> None:
    while True:
        with uow_factory() as uow:
            uow.retention.lock()
            rows, attempts = step(uow, before, size)
            if not rows:
                return
            after: dict[str, object] = {"kind": kind, "deleted": rows, "older_than": before.isoformat()}
            if attempts:
                after["attempts"] = attempts
            uow.record(actor=ACTOR, action="retention.pruned", subject=f"retention/{kind}", model=None, after=after)
            uow.commit()
        deleted[kind] += rows
        deleted["attempts"] += attempts
        if rows < size:
            return


def _count(uow: UnitOfWork, cutoffs: dict[str, datetime], deleted: dict[str, int]) -> None:
    for kind, state in (("deliveries", DeliveryState.SUCCEEDED.value), ("dead_letters", DeliveryState.DEAD.value)):
        if kind in cutoffs:
            rows, attempts = uow.retention.count_deliveries(state=state, before=cutoffs[kind])
            deleted[kind], deleted["attempts"] = rows, deleted["attempts"] + attempts
    # Events whose deliveries would go in the same run still have them now, so they are not
    # counted here: for events this is a lower bound.
    for kind in ("events", "sessions", "tokens"):
        if kind in cutoffs:
            deleted[kind] = getattr(uow.retention, f"count_{kind}")(before=cutoffs[kind])
