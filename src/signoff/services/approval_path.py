"""The approval write path: open a request, check a decision against the policy, go live.

Every door that opens requests or makes a version live goes through here: the approvals
use cases (services/approvals.py), registration with auto-request, inference reports that
promote, rule actions, rollbacks and break-glass promotions (services/lifecycle.py). The
review page asks `decision_context` the same questions `decide` does, so the page and the
POST never disagree about who may do what.
"""

from __future__ import annotations

from typing import Any

from signoff.domain import events
from signoff.domain.approvals import (
    ApprovalRequest,
    Decision,
    DecisionContext,
    RequestState,
    Verdict,
)
from signoff.domain.gates import evaluate_gates
from signoff.domain.models import Stage
from signoff.domain.workflow import Workflow
from signoff.errors import AuthenticationFailed, InvalidTransition, SignoffError
from signoff.services.evidence import build_evidence_snapshot, candidate_metrics, live_metrics
from signoff.services.live import parameter_name, point_live
from signoff.services.ports import UnitOfWork
from signoff.services.records import ModelRecord, RequestRecord, VersionRecord

AUTO_APPROVER = "signoff:auto-approve"


def member_groups(uow: UnitOfWork, actor: str) -> set[str]:
    user = uow.users.find(actor)
    if user is None or user.disabled:
        raise AuthenticationFailed(f"unknown or disabled user {actor!r}", details={"user": actor})
    return uow.users.groups_of(actor)


def live_metrics_now(uow: UnitOfWork, model: str, env: str) -> dict[str, float] | None:
    """Metrics of the version live in env now: its latest report there, else its training metrics."""
    found = live_metrics(uow, model, env)
    return found[0] if found else None


def candidate_evidence(uow: UnitOfWork, workflow: Workflow, version_row: VersionRecord, env: str) -> dict[str, float]:
    """The candidate's metrics: its latest report in the previous environment, else training."""
    return candidate_metrics(uow, workflow, version_row, env)[0]


def decision_context(uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord, env: str,
                      actor: str, groups: set[str]) -> DecisionContext:
    """The facts the policy is checked against, loaded the same way for every door and for auto-approval."""
    previous = workflow.previous(env)
    previous_status = None
    if previous is not None:
        previous_status = uow.versions.stages([version_row.id])[version_row.id].get(previous, Stage.PENDING).value
    return DecisionContext(
        actor=actor,
        groups=groups,
        registrant=version_row.registered_by,
        previous_stage_approvers=uow.requests.approvers_of(version_row.id, previous) if previous else set(),
        now=uow.clock.now(),
        live_since_previous=live_since(uow, model_row, version_row, previous),
        previous_status=previous_status,
    )


def live_since(uow: UnitOfWork, model_row: ModelRecord, version_row: VersionRecord, env: str | None) -> Any:
    if env is None:
        return None
    moves = [p for p in uow.live.history(model_row.id, env) if p.version_id == version_row.id]
    return moves[-1].at if moves else None


def open_request(
    *,
    uow: UnitOfWork,
    workflow: Workflow,
    model_row: ModelRecord,
    version_row: VersionRecord,
    env: str,
    actor: str,
    reason: str,
    kind: str,
    evidence: dict[str, float] | None = None,
    evidence_source: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """Open a request inside the caller's transaction (no commit here).

    `evidence` given without `evidence_source` is labelled as submitted by `actor`.
    """
    policy = workflow.policy(env)
    now = uow.clock.now()
    if evidence is not None:
        metrics, source = evidence, evidence_source or {"source": "submitted", "by": actor}
    else:
        metrics, source = candidate_metrics(uow, workflow, version_row, env)
    live_found = live_metrics(uow, model_row.name, env)
    live = live_found[0] if live_found else None
    gate_results = [r.to_dict() for r in evaluate_gates(policy.gates, metrics, live)]
    request = ApprovalRequest(
        id=None,
        model=model_row.name,
        version=version_row.number,
        env=env,
        kind=kind,
        requested_by=actor,
        reason=reason,
        policy=policy,
        evidence=metrics,
        evidence_source=source,
        gate_results=gate_results,
        digest=version_row.digest,
        created_at=now,
        expires_at=now + policy.request_expiry if policy.request_expiry else None,
    )
    ctx = None
    if policy.auto_approve:
        # The automatic approver passes the checks a person would, or leaves the request to people.
        ctx = decision_context(uow, workflow, model_row, version_row, env, AUTO_APPROVER, set(policy.approvers))
        try:
            request.check_can_decide(Verdict.APPROVE, ctx)
        except SignoffError as exc:
            request.auto_blocked = {"rule": exc.details.get("rule", exc.code), "code": exc.code,
                                    "message": exc.message}
            ctx = None
    uow.requests.add(request, model_id=model_row.id, version_id=version_row.id)
    uow.record(actor=actor, action="approval.requested", subject=request.subject, model=model_row.name,
               after={"request_id": request.id, "env": env, "kind": kind, "reason": reason,
                      "evidence": metrics, "evidence_source": source, "gate_results": gate_results,
                      "auto_approve_blocked": request.auto_blocked})
    live_row = uow.live.row(model_row.name, env)
    uow.emit(events.approval_requested(
        subject=request.subject, request_id=request.id, model=model_row.name, version=version_row.number, env=env,
        kind=kind, reason=reason, requested_by=actor, registered_by=version_row.registered_by,
        approvers=list(policy.approvers), evidence=metrics, evidence_source=source,
        live_version=live_row.number if live_row else None, live_metrics=live,
        live_metrics_source=live_found[1] if live_found else None, gate_results=gate_results,
        digest=version_row.digest, auto_approve_blocked=request.auto_blocked, expires_at=request.expires_at,
    ))
    if ctx is not None:
        auto_approve(uow, workflow, model_row, version_row, request, ctx)
    return request


def open_promotion_request(
    uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord, env: str,
    actor: str, reason: str, evidence: dict[str, float] | None, evidence_source: dict[str, Any] | None = None,
) -> ApprovalRequest:
    stages = uow.versions.stages([version_row.id])[version_row.id]
    previous = workflow.previous(env)
    if previous is not None and stages.get(previous) is not Stage.APPROVED:
        state = stages.get(previous, Stage.PENDING).value
        raise InvalidTransition(
            f"version {version_row.number} of {model_row.name!r} is {state} in {previous}, not Approved; "
            f"it can be promoted to {env} only after approval in {previous}",
            details={"model": model_row.name, "version": version_row.number, "env": env,
                     "required_env": previous, "state": state},
        )
    current = stages.get(env, Stage.PENDING)
    if current is not Stage.PENDING:
        raise InvalidTransition(
            f"version {version_row.number} of {model_row.name!r} is already {current.value} in {env}",
            details={"model": model_row.name, "version": version_row.number, "env": env, "state": current.value},
        )
    kind = "approval" if previous is None else "promotion"
    return open_request(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row, env=env,
                        actor=actor, reason=reason, kind=kind, evidence=evidence, evidence_source=evidence_source)


def auto_approve(uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord,
                  request: ApprovalRequest, ctx: DecisionContext) -> None:
    """The policy's automatic approval: one recorded decision with its evidence, then live."""
    snapshot = build_evidence_snapshot(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row,
                                       request=request)
    decision = Decision(AUTO_APPROVER, Verdict.APPROVE, "approved automatically: every check of the policy held",
                        ctx.now, sorted(ctx.groups), snapshot)
    request.decisions.append(decision)
    request.state, request.decided_at = RequestState.APPROVED, ctx.now
    assert request.id is not None  # stored by open_request
    row = uow.requests.row(request.id)
    uow.requests.save_decision(row, request, decision)
    make_live(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row, env=request.env,
               request_id=request.id, approvers=[AUTO_APPROVER], actor=AUTO_APPROVER, kind="auto_approve")


def make_live(
    *,
    uow: UnitOfWork,
    workflow: Workflow,
    model_row: ModelRecord,
    version_row: VersionRecord,
    env: str,
    request_id: int | None,
    approvers: list[str],
    actor: str,
    kind: str,
    reason: str = "",
) -> int:
    """Approved in env: status, live pointer, promotion history, parameter version, events."""
    now = uow.clock.now()
    before = uow.versions.set_stage(version_row.id, env, Stage.APPROVED, actor=actor, at=now)
    param_version, previous, _ = point_live(
        uow, workflow, model_row, version_row, env, approvers=approvers, approved_at=now,
        request_id=request_id, actor=actor, kind=kind, reason=reason,
    )
    name = parameter_name(model_row.name, env)
    subject = events.version_subject(model_row.name, version_row.number)
    uow.record(actor=actor, action="version.approved", subject=subject, model=model_row.name,
               before={"env": env, "status": before.value, "live_version": previous.number if previous else None},
               after={"env": env, "status": Stage.APPROVED.value, "live_version": version_row.number,
                      "approved_by": approvers, "parameter": name, "parameter_version": param_version})
    uow.emit(events.version_approved(
        model=model_row.name, version=version_row.number, env=env, approved_by=approvers,
        artifact_uri=version_row.artifact_uri, digest=version_row.digest, parameter=name,
        parameter_version=param_version, request_id=request_id,
        previous_version=previous.number if previous else None, next_env=workflow.next(env),
        registered_by=version_row.registered_by, change=kind,
    ))
    return param_version


def request_entity(uow: UnitOfWork, workflow: Workflow, row: RequestRecord) -> ApprovalRequest:
    model_row = uow.models.by_id(row.model_id)
    version_row = uow.versions.by_id(row.version_id)
    return uow.requests.to_entity(row, model_row.name, version_row.number, workflow.policy(row.env))
