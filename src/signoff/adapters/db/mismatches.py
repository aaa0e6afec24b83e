"""Artifact mismatch reports, deduplicated per (version, observed digest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import ArtifactMismatchRow

# Distinct digests recorded per version; reports of further ones are counted under OTHER. Honest
# clients see one wrong digest per version (or a few, as a file is rewritten); made-up digests
# from a resolve token must not buy an audit entry each.
MAX_DIGESTS = 16
OTHER = "*"


class MismatchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def first_report(self, version_id: int, digest: str, *, actor: str, at: datetime) -> bool:
        """Count a report; True only for the first of this (version, digest), even under races.

        INSERT … ON CONFLICT DO NOTHING: of two concurrent first reports exactly one inserts, the
        other waits for its commit (PostgreSQL) or the writer lock (SQLite) and counts a repeat."""
        known = self.session.scalar(select(func.count()).select_from(ArtifactMismatchRow)
                                    .where(ArtifactMismatchRow.version_id == version_id))
        if known and known >= MAX_DIGESTS and not self._has(version_id, digest):
            digest = OTHER
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        values = {"version_id": version_id, "digest": digest, "first_at": at, "first_by": actor, "last_at": at,
                  "reports": 1}
        stmt = (dialect.insert(ArtifactMismatchRow.__table__).values(**values).on_conflict_do_nothing()
                .returning(ArtifactMismatchRow.__table__.c.version_id))
        if self.session.execute(stmt).first() is not None:  # a row comes back only when one was inserted
            return digest != OTHER
        self.session.execute(update(ArtifactMismatchRow)
                             .where(ArtifactMismatchRow.version_id == version_id, ArtifactMismatchRow.digest == digest)
                             .values(reports=ArtifactMismatchRow.reports + 1, last_at=at))
        return False

    def _has(self, version_id: int, digest: str) -> bool:
        return self.session.get(ArtifactMismatchRow, (version_id, digest)) is not None
