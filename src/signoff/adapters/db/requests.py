"""Approval requests and their decisions.

A second open request for one (version, environment) is ``AlreadyExists``, never an
``IntegrityError``.
"""

from __future__ import annotations

import builtins

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import (
    DecisionRow,
    RequestRow,
)
from signoff.domain.approvals import ApprovalRequest, Decision, RequestState, Verdict
from signoff.domain.workflow import Policy
from signoff.errors import AlreadyExists, NotFound
from signoff.services.records import RequestRecord

_OPEN_REQUEST = select(RequestRow).where(
    RequestRow.version_id == bindparam("version_id"), RequestRow.env == bindparam("env"), RequestRow.state == "open"
)
_DECISIONS = select(DecisionRow).where(DecisionRow.request_id == bindparam("request_id")).order_by(DecisionRow.id)
# Deciders on one request queue on its row, so each one sees the decisions before it.
_REQUEST_FOR_UPDATE = (
    select(RequestRow).where(RequestRow.id == bindparam("id")).with_for_update()
    .execution_options(populate_existing=True)
)
_APPROVERS_OF = (
    select(DecisionRow.actor)
    .join(RequestRow, RequestRow.id == DecisionRow.request_id)
    .where(
        RequestRow.version_id == bindparam("version_id"),
        RequestRow.env == bindparam("env"),
        RequestRow.state == "approved",
        DecisionRow.verdict == "approve",
    )
)


class RequestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, request: ApprovalRequest, *, model_id: int, version_id: int) -> RequestRecord:
        row = RequestRow(
            model_id=model_id,
            version_id=version_id,
            env=request.env,
            kind=request.kind,
            state=request.state.value,
            requested_by=request.requested_by,
            reason=request.reason,
            evidence=request.evidence,
            gate_results=request.gate_results,
            policy=request.policy.to_dict(),
            digest=request.digest,
            created_at=request.created_at,
            expires_at=request.expires_at,
            decided_at=None,
            evidence_source=request.evidence_source,
            auto_blocked=request.auto_blocked,
        )
        # No savepoint (they cost a round trip each): the unique index on open requests is the
        # race guard, and a use case that hits it fails as a whole anyway.
        try:
            self.session.add(row)
            self.session.flush()
        except IntegrityError:
            raise AlreadyExists(
                f"an approval request for version {request.version} of {request.model!r} in "
                f"{request.env} is already open",
                details={"model": request.model, "version": request.version, "env": request.env},
            ) from None
        request.id = row.id
        return row

    def row(self, request_id: int, *, lock: bool = False) -> RequestRecord:
        """The request; `lock` holds it until the transaction ends (FOR UPDATE) and re-reads it."""
        row = self.session.scalar(_REQUEST_FOR_UPDATE, {"id": request_id}) if lock else self.session.get(
            RequestRow, request_id)
        if row is None:
            raise NotFound(f"approval request {request_id} not found", details={"request_id": request_id})
        return row

    def open_for(self, version_id: int, env: str) -> RequestRecord | None:
        return self.session.scalar(_OPEN_REQUEST, {"version_id": version_id, "env": env})

    def to_entity(self, row: RequestRecord, model: str, version: int, policy: Policy) -> ApprovalRequest:
        decisions = self.session.scalars(_DECISIONS, {"request_id": row.id})
        return ApprovalRequest(
            id=row.id,
            model=model,
            version=version,
            env=row.env,
            kind=row.kind,
            requested_by=row.requested_by,
            reason=row.reason,
            policy=policy,
            evidence=dict(row.evidence or {}),
            gate_results=list(row.gate_results or []),
            digest=row.digest,
            created_at=row.created_at,
            expires_at=row.expires_at,
            state=RequestState(row.state),
            decided_at=row.decided_at,
            evidence_source=dict(row.evidence_source or {"source": "training"}),
            auto_blocked=row.auto_blocked,
            decisions=[
                Decision(d.actor, Verdict(d.verdict), d.comment, d.at, list(d.groups or []), d.evidence)
                for d in decisions
            ],
        )

    def save_decision(self, row: RequestRecord, request: ApprovalRequest, decision: Decision) -> None:
        self.session.add(
            DecisionRow(
                request_id=row.id,
                actor=decision.actor,
                verdict=decision.verdict.value,
                comment=decision.comment,
                groups=decision.groups,
                digest=request.digest,
                at=decision.at,
                evidence=decision.evidence,
            )
        )
        self.save_state(row, request)

    def save_state(self, row: RequestRecord, request: ApprovalRequest) -> None:
        row.state = request.state.value
        row.decided_at = request.decided_at

    def list(
        self,
        *,
        state: str | None = None,
        env: str | None = None,
        model_id: int | None = None,
        version_id: int | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> builtins.list[RequestRecord]:
        stmt = select(RequestRow).order_by(RequestRow.id).limit(limit)
        if state:
            stmt = stmt.where(RequestRow.state == state)
        if env:
            stmt = stmt.where(RequestRow.env == env)
        if model_id is not None:
            stmt = stmt.where(RequestRow.model_id == model_id)
        if version_id is not None:
            stmt = stmt.where(RequestRow.version_id == version_id)
        if after is not None:
            stmt = stmt.where(RequestRow.id > after)
        return list(self.session.scalars(stmt))

    def approvers_of(self, version_id: int, env: str) -> set[str]:
        """Who approved the (approved) request for this version in env."""
        return set(self.session.scalars(_APPROVERS_OF, {"version_id": version_id, "env": env}))

    def count_open(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(RequestRow).where(RequestRow.state == "open")) or 0)


