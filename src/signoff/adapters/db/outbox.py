"""The event outbox: events written in the transaction of the change they describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from signoff.adapters.db.notify import OUTBOX_CHANNEL, announce
from signoff.adapters.db.parameters import as_stored
from signoff.adapters.db.prepared import Prepared
from signoff.adapters.db.tables import OutboxRow
from signoff.domain.events import Event

_INSERT_OUTBOX = Prepared(insert(OutboxRow.__table__), ("event_id", "type", "subject", "time", "payload",
                                                        "dispatched_at"))


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, events: list[Event], at: datetime) -> None:
        if events:
            _INSERT_OUTBOX.execute_many(self.session, [
                {"event_id": e.id, "type": e.type, "subject": e.subject, "time": at,
                 "payload": as_stored(e.envelope(at)), "dispatched_at": None}
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
