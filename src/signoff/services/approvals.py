"""Use cases of sign-off: open requests, decide on them, and what an approval sets in motion."""

from __future__ import annotations

from typing import Any

from signoff.adapters.db.tables import ModelRow, RequestRow, VersionRow
from signoff.domain import events
from signoff.domain.approvals import ApprovalRequest, Decision, DecisionContext, RequestState, Verdict
from signoff.domain.gates import evaluate_gates
from signoff.domain.models import Stage, check_metrics
from signoff.domain.workflow import Workflow
from signoff.errors import AuthenticationFailed, InvalidInput, InvalidTransition, PolicyViolation, SignoffError
from signoff.services import esign
from signoff.services.evidence import build_evidence_snapshot, candidate_metrics, live_metrics
from signoff.services.live import parameter_name, point_live
from signoff.services.ports import UnitOfWork

AUTO_APPROVER = "signoff:auto-approve"


def _live_metrics(uow: UnitOfWork, model: str, env: str) -> dict[str, float] | None:
    """Metrics of the version live in env now: its latest report there, else its training metrics."""
    found = live_metrics(uow, model, env)
    return found[0] if found else None


def _evidence(uow: UnitOfWork, workflow: Workflow, version_row: VersionRow, env: str) -> dict[str, float]:
    """The candidate's metrics: its latest report in the previous environment, else training."""
    return candidate_metrics(uow, workflow, version_row, env)[0]


def open_request(
    *,
    uow: UnitOfWork,
    workflow: Workflow,
    model_row: ModelRow,
    version_row: VersionRow,
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
        ctx = _decision_context(uow, workflow, model_row, version_row, env, AUTO_APPROVER, set(policy.approvers))
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
    uow.emit(events.Event(events.APPROVAL_REQUESTED, request.subject, {
        "request_id": request.id,
        "model": model_row.name,
        "version": version_row.number,
        "env": env,
        "kind": kind,
        "reason": reason,
        "requested_by": actor,
        "registered_by": version_row.registered_by,
        "approvers": list(policy.approvers),
        "evidence": metrics,
        "evidence_source": source,
        "live_version": live_row.number if live_row else None,
        "live_metrics": live,
        "live_metrics_source": live_found[1] if live_found else None,
        "gate_results": gate_results,
        "gates_passed": all(g["passed"] for g in gate_results),
        "digest": version_row.digest,
        "auto_approve_blocked": request.auto_blocked,
        "expires_at": request.expires_at.isoformat() if request.expires_at else None,
    }))
    if ctx is not None:
        _auto_approve(uow, workflow, model_row, version_row, request, ctx)
    return request


def _auto_approve(uow: UnitOfWork, workflow: Workflow, model_row: ModelRow, version_row: VersionRow,
                  request: ApprovalRequest, ctx: DecisionContext) -> None:
    """The policy's automatic approval: one recorded decision with its evidence, then live."""
    snapshot = build_evidence_snapshot(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row,
                                       request=request)
    decision = Decision(AUTO_APPROVER, Verdict.APPROVE, "approved automatically: every check of the policy held",
                        ctx.now, sorted(ctx.groups), snapshot)
    request.decisions.append(decision)
    request.state, request.decided_at = RequestState.APPROVED, ctx.now
    row = uow.requests.row(request.id)
    uow.requests.save_decision(row, request, decision)
    _make_live(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row, env=request.env,
               request_id=request.id, approvers=[AUTO_APPROVER], actor=AUTO_APPROVER, kind="auto_approve")


def _decision_context(uow: UnitOfWork, workflow: Workflow, model_row: ModelRow, version_row: VersionRow, env: str,
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
        live_since_previous=_live_since(uow, model_row, version_row, previous),
        previous_status=previous_status,
    )


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
        request = _promotion_in_tx(uow, workflow, model_row, version_row, env, actor, reason, clean)
        uow.commit()
    return request


def _promotion_in_tx(
    uow: UnitOfWork, workflow: Workflow, model_row: ModelRow, version_row: VersionRow, env: str,
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


def _user_groups(uow: UnitOfWork, actor: str) -> set[str]:
    user = uow.users.find(actor)
    if user is None or user.disabled:
        raise AuthenticationFailed(f"unknown or disabled user {actor!r}", details={"user": actor})
    return uow.users.groups_of(actor)  # type: ignore[no-any-return]


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
        model_row = uow.session.get(ModelRow, row.model_id)  # type: ignore[attr-defined]
        version_row = uow.versions.by_id(row.version_id)
        request = uow.requests.to_entity(row, model_row.name, version_row.number, workflow.policy(row.env))
        member_of = _user_groups(uow, actor) if groups is None else groups
        if version_row.digest != row.digest:
            raise PolicyViolation(
                f"the artifact of version {version_row.number} changed since request {row.id} was opened; "
                "its evidence no longer holds",
                details={"expected_digest": row.digest, "digest": version_row.digest},
            )
        ctx = _decision_context(uow, workflow, model_row, version_row, row.env, actor, member_of)
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
        uow.emit(events.Event(events.APPROVAL_DECIDED, request.subject, {
            "request_id": row.id, "model": model_row.name, "version": version_row.number, "env": row.env,
            "decision": choice.value, "actor": actor, "comment": comment, "state": request.state.value,
            "registered_by": version_row.registered_by, "missing": request.missing(),
            "evidence_snapshot": snapshot,
        }))
        if request.state is RequestState.APPROVED:
            _make_live(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row, env=row.env,
                       request_id=row.id, approvers=request.approvers, actor=actor, kind="approval")
        elif request.state is RequestState.REJECTED:
            uow.versions.set_stage(version_row.id, row.env, Stage.REJECTED, actor=actor, at=ctx.now)
            uow.record(actor=actor, action="version.rejected", subject=request.subject, model=model_row.name,
                       before={"env": row.env, "status": Stage.PENDING.value},
                       after={"env": row.env, "status": Stage.REJECTED.value, "comment": comment})
            uow.emit(events.Event(events.VERSION_REJECTED, request.subject, {
                "request_id": row.id, "model": model_row.name, "version": version_row.number, "env": row.env,
                "rejected_by": actor, "comment": comment, "registered_by": version_row.registered_by,
            }))
        uow.commit()
    return request


def _live_since(uow: UnitOfWork, model_row: ModelRow, version_row: VersionRow, env: str | None) -> Any:
    if env is None:
        return None
    moves = [p for p in uow.live.history(model_row.id, env) if p.version_id == version_row.id]
    return moves[-1].at if moves else None


def _make_live(
    *,
    uow: UnitOfWork,
    workflow: Workflow,
    model_row: ModelRow,
    version_row: VersionRow,
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
    subject = f"models/{model_row.name}/versions/{version_row.number}"
    uow.record(actor=actor, action="version.approved", subject=subject, model=model_row.name,
               before={"env": env, "status": before.value, "live_version": previous.number if previous else None},
               after={"env": env, "status": Stage.APPROVED.value, "live_version": version_row.number,
                      "approved_by": approvers, "parameter": name, "parameter_version": param_version})
    uow.emit(events.Event(events.VERSION_APPROVED, subject, {
        "model": model_row.name, "version": version_row.number, "env": env, "approved_by": approvers,
        "artifact_uri": version_row.artifact_uri, "digest": version_row.digest,
        "parameter": name, "parameter_version": param_version, "request_id": request_id,
        "previous_version": previous.number if previous else None, "next_env": workflow.next(env),
        "registered_by": version_row.registered_by, "change": kind,
    }))
    return param_version


def get_request(*, uow: UnitOfWork, workflow: Workflow, request_id: int) -> ApprovalRequest:
    """One request with its decisions; raises NotFound."""
    with uow:
        row = uow.requests.row(request_id)
        return _entity(uow, workflow, row)


def _entity(uow: UnitOfWork, workflow: Workflow, row: RequestRow) -> ApprovalRequest:
    model_row = uow.session.get(ModelRow, row.model_id)  # type: ignore[attr-defined]
    version_row = uow.versions.by_id(row.version_id)
    return uow.requests.to_entity(row, model_row.name, version_row.number, workflow.policy(row.env))  # type: ignore[no-any-return]


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
        return [_entity(uow, workflow, r) for r in rows]


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
        return _entity(uow, workflow, row)
