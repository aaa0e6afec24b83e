"""The live pointer per (model, environment) and its promotion history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.tables import (
    LiveRow,
    PromotionRow,
)
from signoff.services.records import LiveRecord, ModelRecord, PromotionRecord, VersionRecord

_PROMOTIONS = (
    select(PromotionRow)
    .where(PromotionRow.model_id == bindparam("model_id"), PromotionRow.env == bindparam("env"))
    .order_by(PromotionRow.id)
)


class LiveRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, model: str, env: str) -> LiveRecord | None:
        return self.session.get(LiveRow, (model, env))

    def lock(self, model: str, env: str) -> None:
        """Hold the (model, env) pointer until the transaction ends: two approvals in one env
        would otherwise both read the same parameter version and live row and collide. An
        advisory lock, as there may be no row to lock yet (pg_locks.py; nothing on SQLite)."""
        pg_locks.hold(self.session, pg_locks.LIVE_POINTERS, f"{model}/{env}")

    def put(self, *, model: ModelRecord, version: VersionRecord, env: str, approved_by: list[str],
            approved_envs: list[str], approved_at: datetime, request_id: int | None, parameter_version: int,
            since: datetime) -> LiveRecord | None:
        """Point (model, env) at a new version; returns the row it replaced, detached as values."""
        old = self.session.get(LiveRow, (model.name, env), populate_existing=True)
        previous = None
        if old is not None:
            previous = LiveRow(**{c: getattr(old, c) for c in LiveRow.__table__.columns.keys()})
            self.session.delete(old)
            self.session.flush()
        self.session.add(LiveRow(
            model_name=model.name, env=env, model_id=model.id, version_id=version.id, number=version.number,
            artifact_uri=version.artifact_uri, digest=version.digest, flavor=version.flavor,
            approved_by=approved_by, approved_envs=approved_envs, approved_at=approved_at, request_id=request_id,
            parameter_version=parameter_version, since=since,
        ))
        return previous

    def refresh_approved_envs(self, version_id: int, approved_envs: list[str]) -> set[str]:
        """Set the approved environments on every live row of this version; returns their models."""
        changed = self.session.execute(
            update(LiveRow).where(LiveRow.version_id == version_id).values(approved_envs=approved_envs)
            .returning(LiveRow.model_name)
        ).scalars()
        return set(changed)

    def clear(self, model: str, env: str) -> LiveRecord | None:
        old = self.session.get(LiveRow, (model, env))
        if old is not None:
            self.session.delete(old)
        return old

    def add_promotion(self, *, model_id: int, env: str, version_id: int | None, previous_version_id: int | None,
                      kind: str, actor: str, reason: str, request_id: int | None, at: datetime) -> None:
        self.session.add(PromotionRow(model_id=model_id, env=env, version_id=version_id,
                                      previous_version_id=previous_version_id, kind=kind, actor=actor, reason=reason,
                                      request_id=request_id, at=at))

    def history(self, model_id: int, env: str) -> list[PromotionRecord]:
        return list(self.session.scalars(_PROMOTIONS, {"model_id": model_id, "env": env}))
