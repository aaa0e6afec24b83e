"""Deleting expired operational rows in batches (services/retention.py decides what and when).

Each method removes at most `limit` rows older than `before` and returns how many it removed
(``count_*`` says how many would go). Only these tables are ever touched: audit entries,
decisions, approval requests, versions, promotions and parameters have no method here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.results import rowcount
from signoff.adapters.db.tables import (
    DeliveryAttemptRow,
    DeliveryRow,
    OutboxRow,
    TokenRow,
    WebSessionRow,
)


class RetentionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        """Serialise pruners of one PostgreSQL database (several workers prune on a schedule)."""
        pg_locks.hold(self.session, pg_locks.RETENTION)

    # Finished deliveries: `next_attempt_at` is when the last attempt was due, never after the
    # delivery finished, so bounding it too lets the (state, next_attempt_at) index find the
    # old rows without walking every recent one.
    def _deliveries(self, state: str, before: datetime) -> Any:
        return and_(DeliveryRow.state == state, DeliveryRow.next_attempt_at < before,
                    DeliveryRow.finished_at.is_not(None), DeliveryRow.finished_at < before)

    def delete_deliveries(self, *, state: str, before: datetime, limit: int) -> tuple[int, int]:
        """Finished deliveries in `state` and their attempts; returns (deliveries, attempts)."""
        ids = list(self.session.scalars(select(DeliveryRow.id).where(self._deliveries(state, before)).limit(limit)))
        if not ids:
            return 0, 0
        attempts = self._rowcount(delete(DeliveryAttemptRow).where(DeliveryAttemptRow.delivery_id.in_(ids)))
        deliveries = self._rowcount(delete(DeliveryRow).where(DeliveryRow.id.in_(ids)))
        return deliveries, attempts

    def count_deliveries(self, *, state: str, before: datetime) -> tuple[int, int]:
        matching = select(DeliveryRow.id).where(self._deliveries(state, before))
        deliveries = self.session.scalar(select(func.count()).select_from(matching.subquery()))
        attempts = self.session.scalar(select(func.count()).select_from(DeliveryAttemptRow)
                                       .where(DeliveryAttemptRow.delivery_id.in_(matching)))
        return int(deliveries or 0), int(attempts or 0)

    # Sent events: fanned out before `before` and with no delivery left (the deliveries go first).
    def _events(self, before: datetime) -> Any:
        return and_(OutboxRow.dispatched_at.is_not(None), OutboxRow.dispatched_at < before,
                    ~exists().where(DeliveryRow.event_seq == OutboxRow.id))

    def delete_events(self, *, before: datetime, limit: int) -> int:
        ids = list(self.session.scalars(select(OutboxRow.id).where(self._events(before)).limit(limit)))
        return self._rowcount(delete(OutboxRow).where(OutboxRow.id.in_(ids))) if ids else 0

    def count_events(self, *, before: datetime) -> int:
        return int(self.session.scalar(select(func.count()).select_from(OutboxRow).where(self._events(before))) or 0)

    def _sessions(self, before: datetime) -> Any:
        return WebSessionRow.expires_at < before

    def delete_sessions(self, *, before: datetime, limit: int) -> int:
        ids = list(self.session.scalars(select(WebSessionRow.id).where(self._sessions(before)).limit(limit)))
        return self._rowcount(delete(WebSessionRow).where(WebSessionRow.id.in_(ids))) if ids else 0

    def count_sessions(self, *, before: datetime) -> int:
        return int(self.session.scalar(select(func.count()).select_from(WebSessionRow)
                                       .where(self._sessions(before))) or 0)

    # Tokens that can never authenticate again: expired, or revoked, that long ago.
    def _tokens(self, before: datetime) -> Any:
        return or_(and_(TokenRow.expires_at.is_not(None), TokenRow.expires_at < before),
                   and_(TokenRow.revoked_at.is_not(None), TokenRow.revoked_at < before))

    def delete_tokens(self, *, before: datetime, limit: int) -> int:
        ids = list(self.session.scalars(select(TokenRow.id).where(self._tokens(before)).limit(limit)))
        return self._rowcount(delete(TokenRow).where(TokenRow.id.in_(ids))) if ids else 0

    def count_tokens(self, *, before: datetime) -> int:
        return int(self.session.scalar(select(func.count()).select_from(TokenRow).where(self._tokens(before))) or 0)

    def _rowcount(self, stmt: Any) -> int:
        return rowcount(self.session.execute(stmt, execution_options={"synchronize_session": False}))
