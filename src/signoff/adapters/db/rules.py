"""Rule storage: the routing rules that turn events into deliveries."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.tables import (
    RuleRow,
)
from signoff.errors import AlreadyExists, NotFound
from signoff.services.records import RuleRecord

_RULES_FINGERPRINT = select(func.count(), func.max(RuleRow.__table__.c.revision))


class RuleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        """Hold the rule set until the transaction ends: processes starting together on
        PostgreSQL would otherwise all insert the default rules (SQLite's writers queue anyway)."""
        pg_locks.hold(self.session, pg_locks.STARTUP_SYNC, "rules")

    def list(self) -> list[RuleRecord]:
        return list(self.session.scalars(select(RuleRow).order_by(RuleRow.name)))

    def find(self, name: str) -> RuleRecord | None:
        return self.session.scalar(select(RuleRow).where(RuleRow.name == name))

    def row(self, name: str) -> RuleRecord:
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

    def add(self, *, name: str, description: str, enabled: bool, pattern: dict[str, Any], targets: builtins.list[Any],
            target_secrets: builtins.list[Any] | None, source: str, actor: str, at: datetime) -> RuleRecord:
        """A new rule at the next revision; raises AlreadyExists."""
        row = RuleRow(name=name, description=description, enabled=enabled, pattern=pattern, targets=targets,
                      target_secrets=target_secrets, source=source, revision=self.next_revision(),
                      created_at=at, created_by=actor, updated_at=at, updated_by=actor)
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"rule {row.name!r} already exists", details={"rule": row.name}) from None
        return row

    def delete(self, row: RuleRecord) -> None:
        self.session.delete(row)
