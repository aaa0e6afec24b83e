"""Read-only history for pictures: live-pointer moves, metrics across versions, one report.

Values leave as plain named tuples (no ORM rows): the pages draw them and nothing writes back.
Every query is bounded by a limit or by the ids it is given, so a model with thousands of
versions and years of reports costs what one page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from signoff.adapters.db.tables import InferenceReportRow, PromotionRow, ReferenceProfileRow, VersionRow


class Move(NamedTuple):
    """One move of a live pointer: `version` None means nothing was live after it."""

    id: int
    env: str
    version: int | None
    previous: int | None
    kind: str
    actor: str
    reason: str
    request_id: int | None
    at: datetime


class VersionMetrics(NamedTuple):
    id: int
    number: int
    metrics: dict[str, Any]


class ReportMetrics(NamedTuple):
    id: int
    version_id: int
    env: str
    metrics: dict[str, Any]
    rows: int
    reported_at: datetime


class ReportMeta(NamedTuple):
    id: int
    version_id: int
    env: str
    rows: int
    reported_at: datetime


class HistoryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def moves(self, model_id: int, *, limit: int) -> list[Move]:
        """The latest `limit` moves of a model's live pointers (every environment), oldest first."""
        new, old = aliased(VersionRow), aliased(VersionRow)
        stmt = (
            select(PromotionRow.id, PromotionRow.env, new.number, old.number, PromotionRow.kind, PromotionRow.actor,
                   PromotionRow.reason, PromotionRow.request_id, PromotionRow.at)
            .outerjoin(new, new.id == PromotionRow.version_id)
            .outerjoin(old, old.id == PromotionRow.previous_version_id)
            .where(PromotionRow.model_id == model_id)
            .order_by(PromotionRow.id.desc())
            .limit(limit)
        )
        return [Move(*row) for row in reversed(self.session.execute(stmt).all())]

    def recent_versions(self, model_id: int, *, limit: int) -> list[VersionMetrics]:
        """The newest `limit` versions of a model with their training metrics, oldest first."""
        stmt = (
            select(VersionRow.id, VersionRow.number, VersionRow.metrics)
            .where(VersionRow.model_id == model_id)
            .order_by(VersionRow.number.desc())
            .limit(limit)
        )
        return [VersionMetrics(r[0], r[1], dict(r[2] or {})) for r in reversed(self.session.execute(stmt).all())]

    def latest_reports(self, version_ids: Sequence[int]) -> list[ReportMetrics]:
        """Each version's latest inference report per environment (metrics only, no profiles)."""
        if not version_ids:
            return []
        latest = (
            select(func.max(InferenceReportRow.id))
            .where(InferenceReportRow.version_id.in_(list(version_ids)))
            .group_by(InferenceReportRow.version_id, InferenceReportRow.env)
        )
        stmt = (
            select(InferenceReportRow.id, InferenceReportRow.version_id, InferenceReportRow.env,
                   InferenceReportRow.metrics, InferenceReportRow.rows, InferenceReportRow.reported_at)
            .where(InferenceReportRow.id.in_(latest))
            .order_by(InferenceReportRow.id)
        )
        return [ReportMetrics(*row) for row in self.session.execute(stmt).all()]

    def report_meta(self, report_id: int) -> ReportMeta | None:
        """One report's facts without its (large) profile."""
        row = self.session.execute(
            select(InferenceReportRow.id, InferenceReportRow.version_id, InferenceReportRow.env,
                   InferenceReportRow.rows, InferenceReportRow.reported_at)
            .where(InferenceReportRow.id == report_id)
        ).first()
        return ReportMeta(*row) if row is not None else None

    def profiles(self, report_id: int, version_id: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A report's batch profile and its version's reference profile (None when it has none)."""
        current = self.session.scalar(select(InferenceReportRow.profile).where(InferenceReportRow.id == report_id))
        reference = self.session.scalar(select(ReferenceProfileRow.profile)
                                        .where(ReferenceProfileRow.version_id == version_id))
        return dict(current or {}), (dict(reference) if reference is not None else None)

    def reference_stamp(self, version_id: int) -> datetime | None:
        """When the version's reference profile was last set (it changes only by being set again)."""
        return self.session.scalar(select(ReferenceProfileRow.created_at)
                                   .where(ReferenceProfileRow.version_id == version_id))
