"""Web sessions: rows keyed by the SHA-256 of the session id (the id itself is never stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from signoff.adapters.db.results import rowcount
from signoff.adapters.db.tables import UserRow, WebSessionRow
from signoff.services.records import UserRecord, WebSessionRecord


class WebSessionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, session_hash: str, user_id: int, csrf_token: str, created_at: datetime, expires_at: datetime,
            user_agent: str) -> WebSessionRecord:
        row = WebSessionRow(session_hash=session_hash, user_id=user_id, csrf_token=csrf_token, created_at=created_at,
                            expires_at=expires_at, user_agent=user_agent)
        self.session.add(row)
        self.session.flush()
        return row

    def find(self, session_hash: str) -> tuple[WebSessionRecord, UserRecord] | None:
        stmt = (select(WebSessionRow, UserRow).join(UserRow, UserRow.id == WebSessionRow.user_id)
                .where(WebSessionRow.session_hash == session_hash))
        found = self.session.execute(stmt).first()
        return (found[0], found[1]) if found is not None else None

    def delete(self, session_hash: str) -> int:
        result = self.session.execute(delete(WebSessionRow).where(WebSessionRow.session_hash == session_hash))
        return rowcount(result)

    def delete_expired(self, now: datetime) -> int:
        result = self.session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
        return rowcount(result)
