"""Inference reports: metrics measured for a version in an environment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import (
    InferenceReportRow,
)

_LATEST_REPORT = (
    select(InferenceReportRow)
    .where(InferenceReportRow.version_id == bindparam("version_id"), InferenceReportRow.env == bindparam("env"))
    .order_by(InferenceReportRow.id.desc())
    .limit(1)
)




class ReportRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: InferenceReportRow) -> InferenceReportRow:
        self.session.add(row)
        self.session.flush()
        return row

    def latest(self, version_id: int, env: str) -> InferenceReportRow | None:
        return self.session.scalar(_LATEST_REPORT, {"version_id": version_id, "env": env})

    def list(self, version_id: int) -> list[InferenceReportRow]:
        return list(
            self.session.scalars(
                select(InferenceReportRow)
                .where(InferenceReportRow.version_id == version_id)
                .order_by(InferenceReportRow.id)
            )
        )


def report_to_dict(row: InferenceReportRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "env": row.env,
        "metrics": row.metrics,
        "rows": row.rows,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "reported_by": row.reported_by,
        "reported_at": row.reported_at.isoformat(),
    }
