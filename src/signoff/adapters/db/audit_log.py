"""The audit log: an append-only, hash-chained record of every change and who made it."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.parameters import as_stored
from signoff.adapters.db.prepared import Prepared
from signoff.adapters.db.tables import AuditRow
from signoff.domain.audit import GENESIS, AuditEntry, seal

_CHAIN_TAIL = Prepared(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))
_INSERT_AUDIT = Prepared(insert(AuditRow.__table__), ("at", "actor", "action", "subject", "model", "before",
                                                      "after", "prev_hash", "hash"))


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def append_many(self, entries: list[AuditEntry]) -> None:
        """Seal several entries in order with one read of the chain's tail and one INSERT."""
        if not entries:
            return
        pg_locks.hold(self.session, pg_locks.AUDIT_CHAIN)
        prev = _CHAIN_TAIL.scalar(self.session) or GENESIS
        rows = []
        for entry in entries:
            entry.before, entry.after = as_stored(entry.before), as_stored(entry.after)
            seal(entry, prev)
            prev = entry.hash
            rows.append({"at": entry.at, "actor": entry.actor, "action": entry.action, "subject": entry.subject,
                         "model": entry.model, "before": entry.before, "after": entry.after,
                         "prev_hash": entry.prev_hash, "hash": entry.hash})
        _INSERT_AUDIT.execute_many(self.session, rows)

    def list(
        self,
        *,
        model: str | None = None,
        subject_prefix: str | None = None,
        since: datetime | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]:
        stmt = select(AuditRow).order_by(AuditRow.id).limit(limit)
        if model:
            stmt = stmt.where(AuditRow.model == model)
        if subject_prefix:
            stmt = stmt.where(AuditRow.subject.startswith(subject_prefix))
        if since:
            stmt = stmt.where(AuditRow.at >= since)
        if after is not None:
            stmt = stmt.where(AuditRow.id > after)
        return [audit_from_row(r) for r in self.session.scalars(stmt)]

    def iter_all(self, batch: int = 2000) -> Iterator[AuditEntry]:
        last = 0
        while True:
            rows = list(self.session.scalars(select(AuditRow).where(AuditRow.id > last).order_by(AuditRow.id).limit(batch)))
            if not rows:
                return
            for r in rows:
                yield audit_from_row(r)
            last = rows[-1].id


def audit_from_row(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        model=row.model,
        before=row.before,
        after=row.after,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


