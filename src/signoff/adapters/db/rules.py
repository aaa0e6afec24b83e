"""Rule storage: the routing rules that turn events into deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.tables import (
    RuleRow,
)
from signoff.domain.rules import public_target
from signoff.errors import AlreadyExists, NotFound

_RULES_FINGERPRINT = select(func.count(), func.max(RuleRow.__table__.c.revision))


class RuleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        """Hold the rule set until the transaction ends: processes starting together on
        PostgreSQL would otherwise all insert the default rules (SQLite's writers queue anyway)."""
        pg_locks.hold(self.session, pg_locks.STARTUP_SYNC, "rules")

    def list(self) -> list[RuleRow]:
        return list(self.session.scalars(select(RuleRow).order_by(RuleRow.name)))

    def find(self, name: str) -> RuleRow | None:
        return self.session.scalar(select(RuleRow).where(RuleRow.name == name))

    def row(self, name: str) -> RuleRow:
        row = self.find(name)
        if row is None:
            raise NotFound(f"rule {name!r} not found", details={"rule": name})
        return row

    def next_revision(self) -> int:
        return int(self.session.scalar(select(func.max(RuleRow.revision))) or 0) + 1

    def fingerprint(self) -> tuple[int, int]:
        """Changes whenever any rule is added, changed or deleted: the compiled-rules cache key."""
        count, top = self.session.connection().execute(_RULES_FINGERPRINT).one()
        return int(count or 0), int(top or 0)

    def add(self, row: RuleRow) -> RuleRow:
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"rule {row.name!r} already exists", details={"rule": row.name}) from None
        return row

    def delete(self, row: RuleRow) -> None:
        self.session.delete(row)



def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def redacted(target: dict[str, Any]) -> dict[str, Any]:
    """Stored targets are public already; redacting again guards rows written another way."""
    return public_target(target)



def rule_to_dict(row: RuleRow) -> dict[str, Any]:
    targets = [redacted(dict(t)) for t in (row.targets or [])]
    return {
        "name": row.name,
        "description": row.description,
        "enabled": row.enabled,
        "pattern": row.pattern,
        "targets": targets,
        "source": row.source,
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "updated_at": _iso(row.updated_at),
        "updated_by": row.updated_by,
    }
