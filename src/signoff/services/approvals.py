"""Use cases of sign-off: request a promotion, decide on it, read requests.

The write path they share with other doors (opening requests, policy checks, going live) is
services/approval_path.py.
"""

from __future__ import annotations

from typing import Any

from signoff.domain import events
from signoff.domain.approvals import ApprovalRequest, RequestState, Verdict
from signoff.domain.models import Stage, check_metrics
from signoff.domain.workflow import Workflow
from signoff.errors import InvalidInput, InvalidTransition, PolicyViolation
from signoff.services import esign
from signoff.services.approval_path import (
    decision_context,
    make_live,
    member_groups,
    open_promotion_request,
    request_entity,
)
from signoff.services.evidence import build_evidence_snapshot
from signoff.services.ports import UnitOfWork


def request_promotion(
    *,
    uow: UnitOfWork,
    workflow: Workflow,
    model: str,
    version: int,
    env: str,
    actor: str,
    reason: str = "",
    evidence: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """Open the request for env; raises NotFound, InvalidTransition (order), AlreadyExists."""
    workflow.check_env(env)
    clean = check_metrics(evidence) if evidence else None
    with uow:
        model_row = uow.models.row(model)
        version_row = uow.versions.row(model_row, version)
        request = open_promotion_request(uow, workflow, model_row, version_row, env, actor, reason, clean)
        uow.commit()
    return request


def decide(
    *,
    uow: UnitOfWork,
    workflow: Workflow,
    request_id: int,
    actor: str,
    verdict: str,
    comment: str = "",
    groups: set[str] | None = None,
    reauth: Any = None,
    signing: Any = None,
) -> ApprovalRequest:
    """Record a decision; raises NotFound, PermissionDenied, InvalidTransition, GateFailed, PolicyViolation,
    ReauthRequired (an electronic signature is required and `reauth` is missing or stale)."""
    try:
        choice = Verdict(verdict)
    except ValueError:
        raise InvalidInput(f"decision must be 'approve' or 'reject', not {verdict!r}", details={"field": "decision"}) from None
    with uow:
        # Locked: racing deciders queue here, so a request closes once and each decision counts.
        row = uow.requests.row(request_id, lock=True)
        model_row = uow.models.by_id(row.model_id)
        version_row = uow.versions.by_id(row.version_id)
        request = uow.requests.to_entity(row, model_row.name, version_row.number, workflow.policy(row.env))
        member_of = member_groups(uow, actor) if groups is None else groups
        if version_row.digest != row.digest:
            raise PolicyViolation(
                f"the artifact of version {version_row.number} changed since request {row.id} was opened; "
                "its evidence no longer holds",
                details={"expected_digest": row.digest, "digest": version_row.digest},
            )
        ctx = decision_context(uow, workflow, model_row, version_row, row.env, actor, member_of)
        snapshot = build_evidence_snapshot(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row,
                                           request=request)
        decision = request.decide(choice, comment, ctx)
        decision.evidence = snapshot
        uow.requests.save_decision(row, request, decision)
        esign.sign_decision(uow, policy=request.policy, request_row=row, model=model_row.name,  # signature, if due
                            version=version_row.number, verdict=choice.value, actor=actor, reauth=reauth, rules=signing,
                            evidence=snapshot)
        uow.record(actor=actor, action=f"approval.{choice.value}d" if choice is Verdict.APPROVE else "approval.rejected",
                   subject=request.subject, model=model_row.name,
                   after={"request_id": row.id, "env": row.env, "decision": choice.value, "comment": comment,
                          "digest": row.digest, "evidence": row.evidence, "gate_results": row.gate_results,
                          "evidence_snapshot": snapshot, "state": request.state.value})
        uow.emit(events.approval_decided(
            subject=request.subject, request_id=row.id, model=model_row.name, version=version_row.number,
            env=row.env, decision=choice.value, actor=actor, comment=comment, state=request.state.value,
            registered_by=version_row.registered_by, missing=request.missing(), evidence_snapshot=snapshot,
        ))
        if request.state is RequestState.APPROVED:
            make_live(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row, env=row.env,
                       request_id=row.id, approvers=request.approvers, actor=actor, kind="approval")
        elif request.state is RequestState.REJECTED:
            uow.versions.set_stage(version_row.id, row.env, Stage.REJECTED, actor=actor, at=ctx.now)
            uow.record(actor=actor, action="version.rejected", subject=request.subject, model=model_row.name,
                       before={"env": row.env, "status": Stage.PENDING.value},
                       after={"env": row.env, "status": Stage.REJECTED.value, "comment": comment})
            uow.emit(events.version_rejected(
                subject=request.subject, request_id=row.id, model=model_row.name, version=version_row.number,
                env=row.env, rejected_by=actor, comment=comment, registered_by=version_row.registered_by,
            ))
        uow.commit()
    return request


def get_request(*, uow: UnitOfWork, workflow: Workflow, request_id: int) -> ApprovalRequest:
    """One request with its decisions; raises NotFound."""
    with uow:
        row = uow.requests.row(request_id)
        return request_entity(uow, workflow, row)


def list_requests(
    *, uow: UnitOfWork, workflow: Workflow, state: str | None = None, env: str | None = None,
    model: str | None = None, version: int | None = None, after: int | None = None, limit: int = 100,
) -> list[ApprovalRequest]:
    """Requests filtered by state/env/model, oldest first; raises NotFound for unknown model/env."""
    if env:
        workflow.check_env(env)
    if state and state not in {s.value for s in RequestState}:
        raise InvalidInput(f"unknown request state {state!r}", details={"field": "state"})
    with uow:
        model_id = version_id = None
        if model:
            model_row = uow.models.row(model)
            model_id = model_row.id
            if version is not None:
                version_id = uow.versions.row(model_row, version).id
        rows = uow.requests.list(state=state, env=env, model_id=model_id, version_id=version_id, after=after, limit=limit)
        return [request_entity(uow, workflow, r) for r in rows]


def find_open_request(*, uow: UnitOfWork, workflow: Workflow, model: str, version: int, env: str) -> ApprovalRequest:
    """The open request for (model, version, env); raises NotFound, InvalidTransition."""
    workflow.check_env(env)
    with uow:
        model_row = uow.models.row(model)
        version_row = uow.versions.row(model_row, version)
        row = uow.requests.open_for(version_row.id, env)
        if row is None:
            stage = uow.versions.stages([version_row.id])[version_row.id].get(env, Stage.PENDING)
            raise InvalidTransition(
                f"no open approval request for version {version} of {model!r} in {env} (status {stage.value})",
                details={"model": model, "version": version, "env": env, "state": stage.value},
            )
        return request_entity(uow, workflow, row)
