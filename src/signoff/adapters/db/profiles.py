"""Reference profiles: one per version, the distribution drift is measured against."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from signoff.adapters.db.tables import ReferenceProfileRow


class ProfileRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, version_id: int, profile: dict[str, Any], *, source: str, actor: str, at: datetime) -> None:
        """Set (or replace) the reference profile of a version."""
        row = self.session.get(ReferenceProfileRow, version_id)
        if row is None:
            self.session.add(ReferenceProfileRow(version_id=version_id, profile=profile, source=source,
                                                 created_at=at, created_by=actor))
        else:
            row.profile, row.source, row.created_at, row.created_by = profile, source, at, actor

    def get(self, version_id: int) -> dict[str, Any] | None:
        row = self.session.get(ReferenceProfileRow, version_id)
        return dict(row.profile) if row is not None else None
