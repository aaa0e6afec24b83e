"""AWS access keys: rows in, plain dicts out; an unknown id or access key id is NotFound."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import AwsKeyRow, UserRow
from signoff.errors import NotFound
from signoff.services.records import AwsKeyRecord


class AwsKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, access_key_id: str, secret_encrypted: str, user_id: int, name: str, scopes: list[str],
            created_at: datetime, created_by: str, expires_at: datetime | None) -> AwsKeyRecord:
        row = AwsKeyRow(access_key_id=access_key_id, secret_encrypted=secret_encrypted, user_id=user_id, name=name,
                        scopes=scopes, created_at=created_at, created_by=created_by, expires_at=expires_at,
                        revoked_at=None, last_used_at=None)
        self.session.add(row)
        self.session.flush()
        return row

    def row(self, key: int | str) -> tuple[AwsKeyRecord, str]:
        """By numeric id or by access key id, with the owner's name."""
        stmt = select(AwsKeyRow, UserRow.name).join(UserRow, UserRow.id == AwsKeyRow.user_id)
        stmt = stmt.where(AwsKeyRow.id == key if isinstance(key, int) else AwsKeyRow.access_key_id == key)
        found = self.session.execute(stmt).first()
        if found is None:
            raise NotFound(f"AWS access key {key} not found", details={"key": key})
        return found[0], found[1]

    def list(self, *, user: str | None = None) -> list[tuple[AwsKeyRecord, str]]:
        stmt = select(AwsKeyRow, UserRow.name).join(UserRow, UserRow.id == AwsKeyRow.user_id).order_by(AwsKeyRow.id)
        if user:
            stmt = stmt.where(UserRow.name == user)
        return [(k, name) for k, name in self.session.execute(stmt)]
