"""API tokens: rows in, plain dicts out; a taken hash is AlreadyExists, an unknown id NotFound."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import TokenRow, UserRow
from signoff.errors import NotFound
from signoff.services.records import TokenRecord


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, token_hash: str, prefix: str, user_id: int, name: str, scopes: list[str], created_at: datetime,
            created_by: str, expires_at: datetime | None) -> TokenRecord:
        row = TokenRow(token_hash=token_hash, prefix=prefix, user_id=user_id, name=name, scopes=scopes,
                       created_at=created_at, created_by=created_by, expires_at=expires_at, revoked_at=None,
                       last_used_at=None)
        self.session.add(row)
        self.session.flush()
        return row

    def row(self, token_id: int) -> TokenRecord:
        row = self.session.get(TokenRow, token_id)
        if row is None:
            raise NotFound(f"token {token_id} not found", details={"token": token_id})
        return row

    def list(self, *, user: str | None = None) -> list[tuple[TokenRecord, str]]:
        stmt = select(TokenRow, UserRow.name).join(UserRow, UserRow.id == TokenRow.user_id).order_by(TokenRow.id)
        if user:
            stmt = stmt.where(UserRow.name == user)
        return [(t, name) for t, name in self.session.execute(stmt)]
