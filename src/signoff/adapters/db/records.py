"""Append-only records: the parameter store, the audit log and the event outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.notify import OUTBOX_CHANNEL, announce
from signoff.adapters.db.prepared import Prepared
from signoff.adapters.db.tables import AuditRow, OutboxRow, ParameterRow
from signoff.domain.audit import GENESIS, AuditEntry, seal
from signoff.domain.events import Event, canonical_json
from signoff.errors import InvalidInput, NotFound

# Every use case appends here: run on the driver's cursor (adapters/db/prepared.py).
_CHAIN_TAIL = Prepared(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))
_INSERT_AUDIT = Prepared(insert(AuditRow.__table__), ("at", "actor", "action", "subject", "model", "before",
                                                      "after", "prev_hash", "hash"))
_INSERT_OUTBOX = Prepared(insert(OutboxRow.__table__), ("event_id", "type", "subject", "time", "payload",
                                                        "dispatched_at"))
_PARAM_MAX = select(func.max(ParameterRow.version)).where(ParameterRow.name == bindparam("name"))
_PARAM_LATEST = (
    select(ParameterRow).where(ParameterRow.name == bindparam("name")).order_by(ParameterRow.version.desc()).limit(1)
)
_PARAM_VERSION = select(ParameterRow).where(ParameterRow.name == bindparam("name"), ParameterRow.version == bindparam("v"))


def _plain(value: Any) -> Any:
    """What the value will look like after a JSON round trip through the database."""
    return json.loads(canonical_json(value))


class ParameterRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, name: str, value: dict[str, Any], *, actor: str, at: datetime) -> int:
        check_parameter_name(name)
        current = self.session.scalar(_PARAM_MAX, {"name": name})
        version = int(current or 0) + 1
        self.session.add(ParameterRow(name=name, version=version, value=_plain(value), created_at=at, created_by=actor))
        return version

    def get(self, name: str, version: int | None = None) -> dict[str, Any]:
        if version is None:
            row = self.session.scalar(_PARAM_LATEST, {"name": name})
        else:
            row = self.session.scalar(_PARAM_VERSION, {"name": name, "v": version})
        if row is None:
            what = f"version {version} of parameter" if version is not None else "parameter"
            raise NotFound(f"{what} {name!r} not found", details={"name": name, "version": version})
        return parameter_to_dict(row)

    def history(self, name: str, *, after: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        stmt = select(ParameterRow).where(ParameterRow.name == name).order_by(ParameterRow.version).limit(limit)
        if after is not None:
            stmt = stmt.where(ParameterRow.version > after)
        rows = [parameter_to_dict(r) for r in self.session.scalars(stmt)]
        if not rows and after is None:
            raise NotFound(f"parameter {name!r} not found", details={"name": name})
        return rows

    def latest_many(self, names: list[str]) -> list[dict[str, Any]]:
        """The latest version of each named parameter that exists, in the order given."""
        if not names:
            return []
        newest = (select(ParameterRow.name, func.max(ParameterRow.version).label("v"))
                  .where(ParameterRow.name.in_(names)).group_by(ParameterRow.name).subquery())
        stmt = select(ParameterRow).join(newest, (ParameterRow.name == newest.c.name) & (ParameterRow.version == newest.c.v))
        found = {row.name: parameter_to_dict(row) for row in self.session.scalars(stmt)}
        return [found[n] for n in names if n in found]

    def names(self, prefix: str = "/") -> list[str]:
        stmt = select(ParameterRow.name).where(ParameterRow.name.startswith(prefix)).distinct().order_by(ParameterRow.name)
        return list(self.session.scalars(stmt))


def check_parameter_name(name: str) -> None:
    if not name.startswith("/") or "//" in name or name.endswith("/") or len(name) > 512:
        raise InvalidInput(f"invalid parameter name {name!r}: use a /hierarchical/path", details={"name": name})


def parameter_to_dict(row: ParameterRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "value": row.value,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


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
            entry.before, entry.after = _plain(entry.before), _plain(entry.after)
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
    ) -> list[AuditEntry]:
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


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, events: list[Event], at: datetime) -> None:
        if events:
            _INSERT_OUTBOX.execute_many(self.session, [
                {"event_id": e.id, "type": e.type, "subject": e.subject, "time": at,
                 "payload": _plain(e.envelope(at)), "dispatched_at": None}
                for e in events
            ])
            # Workers LISTEN for this; PostgreSQL delivers it at commit, or never on rollback.
            announce(self.session, OUTBOX_CHANNEL)

    def list(self, *, type: str | None = None, after: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        stmt = select(OutboxRow).order_by(OutboxRow.id).limit(limit)
        if type:
            stmt = stmt.where(OutboxRow.type == type)
        if after is not None:
            stmt = stmt.where(OutboxRow.id > after)
        return [
            {"seq": r.id, "event": r.payload, "dispatched_at": r.dispatched_at.isoformat() if r.dispatched_at else None}
            for r in self.session.scalars(stmt)
        ]
