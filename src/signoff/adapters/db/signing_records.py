"""Signed records: deployment attestations, audit checkpoints, verification results, and the
state that `audit verify` checks against the chain (live pointers, latest parameter values)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import (
    AttestationRow,
    AuditCheckpointRow,
    AuditVerificationRow,
    LiveRow,
    ParameterRow,
    SignatureRow,
    SigningFailureRow,
)


class AttestationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, model_id: int, version_id: int, env: str, kind: str, digest: str, request_id: int | None,
            parameter_version: int, keyid: str, payload_sha256: str, envelope: dict[str, Any],
            at: datetime) -> None:
        self.session.add(AttestationRow(
            model_id=model_id, version_id=version_id, env=env, kind=kind, digest=digest, request_id=request_id,
            parameter_version=parameter_version, keyid=keyid, payload_sha256=payload_sha256, envelope=envelope,
            created_at=at))

    def list(self, version_id: int, env: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        stmt = select(AttestationRow).where(AttestationRow.version_id == version_id)
        if env:
            stmt = stmt.where(AttestationRow.env == env)
        rows = self.session.scalars(stmt.order_by(AttestationRow.id.desc()))
        return [{"id": r.id, "env": r.env, "change": r.kind, "digest": r.digest, "request_id": r.request_id,
                 "parameter_version": r.parameter_version, "keyid": r.keyid, "payload_sha256": r.payload_sha256,
                 "created_at": r.created_at.isoformat(), "envelope": r.envelope} for r in rows]


class CheckpointRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, at: datetime, count: int, head_id: int | None, head_hash: str, keyid: str,
            envelope: dict[str, Any]) -> int:
        row = AuditCheckpointRow(at=at, count=count, head_id=head_id, head_hash=head_hash, keyid=keyid,
                                 envelope=envelope)
        self.session.add(row)
        self.session.flush()
        return row.id

    def envelopes(self) -> list[dict[str, Any]]:
        return [r.envelope for r in self.session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.id))]

    def latest_at(self) -> datetime | None:
        return self.session.scalar(select(func.max(AuditCheckpointRow.at)))

    def head(self) -> tuple[int, int | None, str]:
        """(entry count, last id, last hash) of the audit chain as this transaction sees it."""
        from signoff.adapters.db import pg_locks
        from signoff.adapters.db.tables import AuditRow
        from signoff.domain.audit import GENESIS

        # With appends held off, the count and the last entry describe the same chain.
        pg_locks.hold(self.session, pg_locks.AUDIT_CHAIN)
        count = int(self.session.scalar(select(func.count()).select_from(AuditRow)) or 0)
        last = self.session.execute(select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).first()
        return (count, last[0], last[1]) if last else (0, None, GENESIS)


class VerificationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, at: datetime, ok: bool, checked: int, problems: list[dict[str, Any]], by: str) -> None:
        self.session.add(AuditVerificationRow(at=at, ok=ok, checked=checked, problems=problems, by=by))

    def latest(self) -> dict[str, Any] | None:
        row = self.session.scalar(select(AuditVerificationRow).order_by(AuditVerificationRow.id.desc()).limit(1))
        if row is None:
            return None
        return {"at": row.at, "ok": row.ok, "checked": row.checked, "problems": row.problems, "by": row.by}


class StateRepository:
    """What resolve hands out, read for the cross-check against the audit chain."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def live_pointers(self) -> list[dict[str, Any]]:
        return [{"model": r.model_name, "env": r.env, "version": r.number, "digest": r.digest,
                 "parameter_version": r.parameter_version}
                for r in self.session.scalars(select(LiveRow).order_by(LiveRow.model_name, LiveRow.env))]

    def latest_parameters(self) -> list[dict[str, Any]]:
        latest = (select(ParameterRow.name, func.max(ParameterRow.version).label("v"))
                  .group_by(ParameterRow.name).subquery())
        stmt = (select(ParameterRow).join(latest, (ParameterRow.name == latest.c.name)
                                          & (ParameterRow.version == latest.c.v)).order_by(ParameterRow.name))
        return [{"name": r.name, "version": r.version, "value": r.value} for r in self.session.scalars(stmt)]


class SignatureRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, request_id: int, user: str, meaning: str, signed_at: datetime, record: dict[str, Any],
            envelope: dict[str, Any]) -> int:
        row = SignatureRow(request_id=request_id, user_name=user, meaning=meaning, signed_at=signed_at,
                           record=record, envelope=envelope)
        self.session.add(row)
        self.session.flush()
        return row.id

    def for_requests(self, request_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in request_ids}
        if not request_ids:
            return out
        stmt = select(SignatureRow).where(SignatureRow.request_id.in_(request_ids)).order_by(SignatureRow.id)
        for row in self.session.scalars(stmt):
            out[row.request_id].append(_signature(row))
        return out

    def all(self) -> list[dict[str, Any]]:
        return [_signature(r) for r in self.session.scalars(select(SignatureRow).order_by(SignatureRow.id))]

    def last_signed_at(self, user: str) -> datetime | None:
        return self.session.scalar(select(func.max(SignatureRow.signed_at))
                                   .where(SignatureRow.user_name == user))

    def add_failure(self, user: str, at: datetime, method: str) -> None:
        self.session.add(SigningFailureRow(user_name=user, at=at, method=method))
        self.session.flush()

    def failures_since(self, user: str, since: datetime) -> list[datetime]:
        stmt = (select(SigningFailureRow.at).where(SigningFailureRow.user_name == user, SigningFailureRow.at > since)
                .order_by(SigningFailureRow.at))
        return list(self.session.scalars(stmt))


def _signature(row: SignatureRow) -> dict[str, Any]:
    return {"id": row.id, "request_id": row.request_id, "user": row.user_name, "meaning": row.meaning,
            "signed_at": row.signed_at.isoformat(), "record": row.record, "envelope": row.envelope}
