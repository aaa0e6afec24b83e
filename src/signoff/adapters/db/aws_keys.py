"""AWS access keys: rows in, plain dicts out; an unknown id or access key id is NotFound."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import AwsKeyRow, UserRow
from signoff.errors import NotFound


class AwsKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: AwsKeyRow) -> AwsKeyRow:
        self.session.add(row)
        self.session.flush()
        return row

    def row(self, key: int | str) -> tuple[AwsKeyRow, str]:
        """By numeric id or by access key id, with the owner's name."""
        stmt = select(AwsKeyRow, UserRow.name).join(UserRow, UserRow.id == AwsKeyRow.user_id)
        stmt = stmt.where(AwsKeyRow.id == key if isinstance(key, int) else AwsKeyRow.access_key_id == key)
        found = self.session.execute(stmt).first()
        if found is None:
            raise NotFound(f"AWS access key {key} not found", details={"key": key})
        return found[0], found[1]

    def list(self, *, user: str | None = None) -> list[tuple[AwsKeyRow, str]]:
        stmt = select(AwsKeyRow, UserRow.name).join(UserRow, UserRow.id == AwsKeyRow.user_id).order_by(AwsKeyRow.id)
        if user:
            stmt = stmt.where(UserRow.name == user)
        return [(k, name) for k, name in self.session.execute(stmt)]


def aws_key_to_dict(row: AwsKeyRow, user: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "access_key_id": row.access_key_id,
        "user": user,
        "name": row.name,
        "scopes": list(row.scopes or []),
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }
