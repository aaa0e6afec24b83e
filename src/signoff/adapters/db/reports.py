"""Inference reports: metrics measured for a version in an environment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import (
    InferenceReportRow,
)
from signoff.services.records import InferenceReportRecord

_LATEST_REPORT = (
    select(InferenceReportRow)
    .where(InferenceReportRow.version_id == bindparam("version_id"), InferenceReportRow.env == bindparam("env"))
    .order_by(InferenceReportRow.id.desc())
    .limit(1)
)


class ReportRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, version_id: int, env: str, metrics: dict[str, Any], rows: int, profile: dict[str, Any],
            started_at: datetime | None, finished_at: datetime | None, reported_by: str,
            reported_at: datetime) -> InferenceReportRecord:
        row = InferenceReportRow(version_id=version_id, env=env, metrics=metrics, rows=rows, profile=profile,
                                 started_at=started_at, finished_at=finished_at, reported_by=reported_by,
                                 reported_at=reported_at)
        self.session.add(row)
        self.session.flush()
        return row

    def latest(self, version_id: int, env: str) -> InferenceReportRecord | None:
        return self.session.scalar(_LATEST_REPORT, {"version_id": version_id, "env": env})

    def list(self, version_id: int) -> list[InferenceReportRecord]:
        return list(
            self.session.scalars(
                select(InferenceReportRow)
                .where(InferenceReportRow.version_id == version_id)
                .order_by(InferenceReportRow.id)
            )
        )
