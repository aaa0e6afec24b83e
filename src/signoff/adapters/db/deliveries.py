"""Delivery storage: the outbox claim, deliveries (with leases) and their attempts.

Claims take rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of workers
share the queue without waiting on each other; on SQLite every write transaction begins
IMMEDIATE (engine.py), which serialises claims across processes on the one file.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, and_, bindparam, column, func, insert, literal, select, table, true, update
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import (
    DeliveryAttemptRow,
    DeliveryRow,
    OutboxRow,
    UTCDateTime,
)
from signoff.domain.deliveries import DeliveryState
from signoff.errors import NotFound
from signoff.services.records import DeliveryAttemptRecord, DeliveryRecord

PENDING, RUNNING = DeliveryState.PENDING.value, DeliveryState.RUNNING.value
SUCCEEDED, DEAD = DeliveryState.SUCCEEDED.value, DeliveryState.DEAD.value
D, A, OUTBOX = DeliveryRow.__table__, DeliveryAttemptRow.__table__, OutboxRow.__table__
UTC_DATETIME = UTCDateTime()


def _skip_locked(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


_NOW = bindparam("now", type_=UTC_DATETIME)
_PENDING_EVENTS = (select(OUTBOX.c.id, OUTBOX.c.event_id, OUTBOX.c.type, OUTBOX.c.time, OUTBOX.c.payload)
                   .where(OUTBOX.c.dispatched_at.is_(None)).order_by(OUTBOX.c.id).limit(bindparam("limit")))
_PENDING_EVENTS_LOCKED = _PENDING_EVENTS.with_for_update(skip_locked=True)
# Written by PostgreSQL's triggers only (migration 0016), so not an ORM table. Labels whose
# rows all went (net zero) are left out, as a count over the rows would leave them out; the
# backlog's two ages ride along on every row (and on the one row there is when nothing was counted).
_TALLY = table("delivery_tallies", column("kind"), column("label"), column("target_type"), column("n"))
_SUMS = (select(_TALLY.c.kind, _TALLY.c.label, _TALLY.c.target_type, func.sum(_TALLY.c.n).label("n"))
         .group_by(_TALLY.c.kind, _TALLY.c.label, _TALLY.c.target_type).having(func.sum(_TALLY.c.n) != 0)
         .subquery())
_ONE = select(literal(1).label("one")).subquery()
_TALLIED_STATS = (
    select(_SUMS.c.kind, _SUMS.c.label, _SUMS.c.target_type, _SUMS.c.n,
           select(func.min(OUTBOX.c.time)).where(OUTBOX.c.dispatched_at.is_(None)).scalar_subquery(),
           select(func.min(D.c.event_time)).where(D.c.state.in_([PENDING, RUNNING])).scalar_subquery())
    .select_from(_ONE.outerjoin(_SUMS, true()))
    .order_by(_SUMS.c.kind, _SUMS.c.label, _SUMS.c.target_type))
_MARK_DISPATCHED = (update(OUTBOX).where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
                    .values(dispatched_at=_NOW))
_EXISTING_KEYS = select(D.c.idempotency_key).where(D.c.idempotency_key.in_(bindparam("keys", expanding=True)))
_INSERT_DELIVERIES = insert(D)
_INSERT_ATTEMPTS = insert(A)
_LEASE = (update(D).where(D.c.id.in_(bindparam("ids", expanding=True))).values(
    state=RUNNING, lease_owner=bindparam("owner"), lease_expires_at=bindparam("until", type_=UTC_DATETIME),
    attempts=D.c.attempts + 1, updated_at=_NOW))
_OWNED = select(D.c.id).where(D.c.id.in_(bindparam("ids", expanding=True)), D.c.state == RUNNING,
                              D.c.lease_owner == bindparam("owner"))
_OWNED_LOCKED = _OWNED.with_for_update()
_SETTLE = update(D).where(D.c.id == bindparam("b_id")).values(
    state=bindparam("b_state"), lease_owner=None, lease_expires_at=None,
    updated_at=bindparam("b_now", type_=UTC_DATETIME),
    last_status_code=bindparam("b_status_code"), last_error=bindparam("b_error"),
    next_attempt_at=func.coalesce(bindparam("b_next", type_=UTC_DATETIME), D.c.next_attempt_at),
    finished_at=bindparam("b_finished", type_=UTC_DATETIME),
    result=func.coalesce(bindparam("b_result", type_=JSON(none_as_null=True)), D.c.result))
# Only the deliveries a worker has in hand, and on PostgreSQL only those no other transaction
# holds: a row being settled needs no renewal, and waiting for it (rows locked in another
# order than the settling thread locks them) can deadlock the two.
_RENEWABLE = select(D.c.id).where(D.c.id.in_(bindparam("ids", expanding=True)), D.c.state == RUNNING,
                                  D.c.lease_owner == bindparam("owner"))
_RENEW = (update(D).where(D.c.id.in_(_RENEWABLE))
          .values(lease_expires_at=bindparam("until", type_=UTC_DATETIME)))
_RENEW_SKIP_LOCKED = (update(D).where(D.c.id.in_(_RENEWABLE.with_for_update(skip_locked=True)))
                      .values(lease_expires_at=bindparam("until", type_=UTC_DATETIME)))
_PROBES = (
    select(OUTBOX.c.id).where(OUTBOX.c.dispatched_at.is_(None)).limit(1),
    select(D.c.id).where(D.c.state == PENDING, D.c.next_attempt_at <= _NOW).limit(1),
    select(D.c.id).where(D.c.state == RUNNING, D.c.lease_expires_at < _NOW).limit(1),
)
_CLAIM_STMTS: dict[tuple[bool, bool, bool, bool], Any] = {}


def _claim_stmt(abandoned: bool, by_type: bool, excluding: bool, locked: bool) -> Any:
    """The claim select for one combination of filters, built on first use and kept."""
    key = (abandoned, by_type, excluding, locked)
    stmt = _CLAIM_STMTS.get(key)
    if stmt is None:
        cond = (and_(D.c.state == RUNNING, D.c.lease_expires_at < _NOW) if abandoned
                else and_(D.c.state == PENDING, D.c.next_attempt_at <= _NOW))
        stmt = (select(D.c.id, D.c.idempotency_key, D.c.state, D.c.attempts, D.c.rule_name, D.c.target,
                       D.c.target_secrets, D.c.event_seq, D.c.lease_owner, D.c.updated_at, OUTBOX.c.payload)
                .join(OUTBOX, OUTBOX.c.id == D.c.event_seq)
                .where(cond).order_by(D.c.next_attempt_at, D.c.id).limit(bindparam("limit")))
        if by_type:
            stmt = stmt.where(D.c.target_type.in_(bindparam("types", expanding=True)))
        if excluding:
            stmt = stmt.where(D.c.target_type.not_in(bindparam("exclude", expanding=True)))
        if locked:
            stmt = stmt.with_for_update(skip_locked=True, of=D)
        _CLAIM_STMTS[key] = stmt
    return stmt


class DeliveryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- fan-out and claiming: prebuilt Core statements on the session's connection ---------
    # Building a select and the ORM's work per execute cost more than these queries do; a worker
    # runs them for every event, so they are built once (see _claim_stmt) and run through Core.

    def _run(self, stmt: Any, params: Any = None) -> Any:
        return self.session.connection().execute(stmt, params)

    def pending_events(self, limit: int) -> list[Any]:
        """Committed events not yet fanned out, oldest first, locked against other workers."""
        stmt = _PENDING_EVENTS_LOCKED if _skip_locked(self.session) else _PENDING_EVENTS
        return list(self._run(stmt, {"limit": limit}).all())

    def mark_dispatched(self, ids: Sequence[int], now: datetime) -> None:
        self._run(_MARK_DISPATCHED, {"ids": list(ids), "now": now})

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            found.update(self._run(_EXISTING_KEYS, {"keys": list(keys[start:start + 500])}).scalars())
        return found

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._run(_INSERT_DELIVERIES, rows)

    def claimable(self, now: datetime, limit: int, *, types: Collection[str] | None = None,
                  exclude: Collection[str] | None = None) -> list[Any]:
        """Due deliveries and those whose lease ran out (their worker died), with their events."""
        out: list[Any] = []
        locked = _skip_locked(self.session)
        for abandoned in (True, False):
            if len(out) >= limit:
                break
            stmt = _claim_stmt(abandoned, types is not None, bool(exclude), locked)
            params: dict[str, Any] = {"now": now, "limit": limit - len(out)}
            if types is not None:
                params["types"] = list(types)
            if exclude:
                params["exclude"] = list(exclude)
            out.extend(self._run(stmt, params).all())
        return out

    def lease(self, ids: Sequence[int], owner: str, until: datetime, now: datetime) -> None:
        """Mark claimed deliveries running under `owner` until `until`; each claim is an attempt."""
        if ids:
            self._run(_LEASE, {"ids": list(ids), "owner": owner, "until": until, "now": now})

    def owned(self, ids: Sequence[int], owner: str) -> set[int]:
        """The deliveries among `ids` this worker still holds (a lost lease means someone took over)."""
        if not ids:
            return set()
        # On PostgreSQL FOR UPDATE holds them until this transaction settles them.
        stmt = _OWNED_LOCKED if _skip_locked(self.session) else _OWNED
        return set(self._run(stmt, {"ids": list(ids), "owner": owner}).scalars())

    def settle(self, changes: list[dict[str, Any]]) -> None:
        """Apply per-delivery outcomes: dicts of `id, state, now, status_code, error, next, finished, result`."""
        if changes:
            self._run(_SETTLE, [{f"b_{k}": v for k, v in c.items()} for c in changes])

    def add_attempts(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._run(_INSERT_ATTEMPTS, rows)

    def renew(self, ids: Sequence[int], owner: str, until: datetime) -> int:
        """Extend the leases of `ids` that `owner` still holds; returns how many it extended."""
        if not ids:
            return 0
        stmt = _RENEW_SKIP_LOCKED if _skip_locked(self.session) else _RENEW
        result = self._run(stmt, {"ids": list(ids), "owner": owner, "until": until})
        return int(result.rowcount or 0)

    def has_work(self, now: datetime) -> bool:
        """A cheap read: is anything waiting to be fanned out, due, or abandoned?"""
        # Idle workers ask this many times a second: never take SQLite's write lock for it.
        self.session.connection(execution_options={"sqlite_begin": "DEFERRED"})
        conn = self.session.connection()
        return any(conn.execute(p, {"now": now}).first() is not None for p in _PROBES)

    # -- reading -------------------------------------------------------------------------

    def row(self, delivery_id: int) -> DeliveryRecord:
        row = self.session.get(DeliveryRow, delivery_id)
        if row is None:
            raise NotFound(f"delivery {delivery_id} not found", details={"delivery_id": delivery_id})
        return row

    def list(self, *, state: str | None = None, rule: str | None = None, event_id: str | None = None,
             target_type: str | None = None, after: int | None = None, limit: int = 100) -> builtins.list[DeliveryRecord]:
        stmt = select(DeliveryRow).order_by(DeliveryRow.id).limit(limit)
        if state:
            stmt = stmt.where(DeliveryRow.state == state)
        if rule:
            stmt = stmt.where(DeliveryRow.rule_name == rule)
        if event_id:
            stmt = stmt.where(DeliveryRow.event_id == event_id)
        if target_type:
            stmt = stmt.where(DeliveryRow.target_type == target_type)
        if after is not None:
            stmt = stmt.where(DeliveryRow.id > after)
        return list(self.session.scalars(stmt))

    def attempts(self, delivery_id: int) -> builtins.list[DeliveryAttemptRecord]:
        stmt = (select(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id == delivery_id)
                .order_by(DeliveryAttemptRow.id))
        return list(self.session.scalars(stmt))

    def attempt_count(self, delivery_id: int) -> int:
        stmt = select(func.count()).select_from(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id == delivery_id)
        return int(self.session.scalar(stmt) or 0)

    @property
    def tallied(self) -> bool:
        """Whether the database keeps the counts itself (PostgreSQL: triggers fill
        `delivery_tallies`, migration 0016), so reading every figure costs a few rows."""
        return self.session.get_bind().dialect.name == "postgresql"

    def stats(self) -> dict[str, Any]:
        """Counts for /metrics: deliveries by state and target type, attempts by outcome, backlog age."""
        if self.tallied:
            return self._tallied_stats()
        live, totals = self.live_stats(), self.totals()
        return {"deliveries": totals["succeeded"] + live["deliveries"], "attempts": totals["attempts"],
                "oldest_undelivered_event_time": live["oldest_undelivered_event_time"]}

    def _tallied_stats(self) -> dict[str, Any]:
        # One statement, one round trip: on a busy host each one waits for the CPU twice.
        deliveries: list[dict[str, Any]] = []
        attempts: dict[str, int] = {}
        oldest = None
        for kind, label, target_type, n, undispatched, undelivered in self.session.execute(_TALLIED_STATS):
            oldest = min((t for t in (undispatched, undelivered) if t is not None), default=None)
            if kind == "delivery":
                deliveries.append({"state": label, "target_type": target_type, "count": int(n)})
            elif kind == "attempt":
                attempts[label] = int(n)
        return {"deliveries": deliveries, "attempts": attempts, "oldest_undelivered_event_time": oldest}

    def _oldest_undelivered(self) -> datetime | None:
        undispatched = self.session.scalar(select(func.min(OutboxRow.time)).where(OutboxRow.dispatched_at.is_(None)))
        undelivered = self.session.scalar(select(func.min(DeliveryRow.event_time))
                                          .where(DeliveryRow.state.in_([PENDING, RUNNING])))
        return min((t for t in (undispatched, undelivered) if t is not None), default=None)

    def live_stats(self) -> dict[str, Any]:
        """The cheap part of `stats`, read through the (state, next_attempt_at) index: deliveries
        not succeeded (pending, running, dead: few) by state and target type, and the backlog's age."""
        by_state = [{"state": s, "target_type": t, "count": int(n)} for s, t, n in self.session.execute(
            select(DeliveryRow.state, DeliveryRow.target_type, func.count())
            .where(DeliveryRow.state.in_([PENDING, RUNNING, DEAD]))
            .group_by(DeliveryRow.state, DeliveryRow.target_type))]
        return {"deliveries": by_state, "oldest_undelivered_event_time": self._oldest_undelivered()}

    def totals(self) -> dict[str, Any]:
        """The costly part of `stats`, a scan of both tables: succeeded deliveries by target type
        (the bulk of the rows) and attempts by outcome."""
        succeeded = [{"state": SUCCEEDED, "target_type": t, "count": int(n)} for t, n in self.session.execute(
            select(DeliveryRow.target_type, func.count()).where(DeliveryRow.state == SUCCEEDED)
            .group_by(DeliveryRow.target_type))]
        attempts = {o: int(n) for o, n in self.session.execute(
            select(DeliveryAttemptRow.outcome, func.count()).group_by(DeliveryAttemptRow.outcome))}
        return {"succeeded": succeeded, "attempts": attempts}
