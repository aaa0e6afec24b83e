"""API tokens: rows in, plain dicts out; a taken hash is AlreadyExists, an unknown id NotFound."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import TokenRow, UserRow
from signoff.errors import NotFound


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: TokenRow) -> TokenRow:
        self.session.add(row)
        self.session.flush()
        return row

    def row(self, token_id: int) -> TokenRow:
        row = self.session.get(TokenRow, token_id)
        if row is None:
            raise NotFound(f"token {token_id} not found", details={"token": token_id})
        return row

    def list(self, *, user: str | None = None) -> list[tuple[TokenRow, str]]:
        stmt = select(TokenRow, UserRow.name).join(UserRow, UserRow.id == TokenRow.user_id).order_by(TokenRow.id)
        if user:
            stmt = stmt.where(UserRow.name == user)
        return [(t, name) for t, name in self.session.execute(stmt)]


def token_to_dict(row: TokenRow, user: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "user": user,
        "name": row.name,
        "prefix": row.prefix,
        "scopes": list(row.scopes or []),
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }
