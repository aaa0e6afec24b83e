"""The revoked (version, environment) pairs, for the signed revocation list.

The status rows say what is revoked now; the reason lives only in the `version.revoked` audit
entry, read through the audit log's model index (a revocation is rare, the log is not).
"""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import AuditRow, ModelRow, StageRow, VersionRow
from signoff.domain.models import Stage

REVOKED_ACTION = "version.revoked"


class RevocationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every revoked (model, version, env) with digest, time, who and why; ordered by model, version, env."""
        stmt = (select(ModelRow.name, VersionRow.number, VersionRow.digest, StageRow.env, StageRow.updated_at,
                       StageRow.updated_by)
                .join(VersionRow, VersionRow.id == StageRow.version_id)
                .join(ModelRow, ModelRow.id == VersionRow.model_id)
                .where(StageRow.status == Stage.REVOKED.value)
                .order_by(ModelRow.name, VersionRow.number, StageRow.env))
        rows = self.session.execute(stmt).all()
        reasons = self._reasons(sorted({r[0] for r in rows}))
        return [{"model": model, "version": number, "digest": digest, "env": env, "revoked_at": at,
                 "revoked_by": by, "reason": reasons.get((model, number, env), "")}
                for model, number, digest, env, at, by in rows]

    def _reasons(self, models: builtins.list[str]) -> dict[tuple[str, int, str], str]:
        out: dict[tuple[str, int, str], str] = {}
        for model in models:
            stmt = (select(AuditRow.subject, AuditRow.after)
                    .where(AuditRow.model == model, AuditRow.action == REVOKED_ACTION).order_by(AuditRow.id))
            for subject, after in self.session.execute(stmt):
                if not isinstance(after, dict):
                    continue
                number = subject.rsplit("/", 1)[-1]
                if number.isdigit():  # the last revocation of a pair wins (there is only one: it is final)
                    out[(model, int(number), str(after.get("env")))] = str(after.get("reason") or "")
        return out
