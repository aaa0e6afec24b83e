"""The live pointer per (model, environment) and its promotion history."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.tables import (
    LiveRow,
    PromotionRow,
)
from signoff.domain.models import LiveVersion

_PROMOTIONS = (
    select(PromotionRow)
    .where(PromotionRow.model_id == bindparam("model_id"), PromotionRow.env == bindparam("env"))
    .order_by(PromotionRow.id)
)


class LiveRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, model: str, env: str) -> LiveRow | None:
        return self.session.get(LiveRow, (model, env))

    def lock(self, model: str, env: str) -> None:
        """Hold the (model, env) pointer until the transaction ends: two approvals in one env
        would otherwise both read the same parameter version and live row and collide. An
        advisory lock, as there may be no row to lock yet (pg_locks.py; nothing on SQLite)."""
        pg_locks.hold(self.session, pg_locks.LIVE_POINTERS, f"{model}/{env}")

    def put(self, row: LiveRow) -> LiveRow | None:
        """Point (model, env) at a new version; returns the row it replaced, detached as values."""
        old = self.session.get(LiveRow, (row.model_name, row.env), populate_existing=True)
        previous = None
        if old is not None:
            previous = LiveRow(**{c: getattr(old, c) for c in LiveRow.__table__.columns.keys()})
            self.session.delete(old)
            self.session.flush()
        self.session.add(row)
        return previous

    def clear(self, model: str, env: str) -> LiveRow | None:
        old = self.session.get(LiveRow, (model, env))
        if old is not None:
            self.session.delete(old)
        return old

    def add_promotion(self, row: PromotionRow) -> None:
        self.session.add(row)

    def history(self, model_id: int, env: str) -> list[PromotionRow]:
        return list(self.session.scalars(_PROMOTIONS, {"model_id": model_id, "env": env}))


def live_from_row(row: LiveRow) -> LiveVersion:
    return LiveVersion(
        model=row.model_name,
        env=row.env,
        version=row.number,
        artifact_uri=row.artifact_uri,
        digest=row.digest,
        flavor=row.flavor,
        approved_by=list(row.approved_by or []),
        approved_at=row.approved_at,
        approved_envs=list(row.approved_envs or []),
        request_id=row.request_id,
        parameter_version=row.parameter_version,
    )


