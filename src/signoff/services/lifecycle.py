"""After approval: roll an environment back, revoke a version, and break glass in an emergency.

All three move the live pointer outside the normal request/decision path, so each is allowed
only to the people who could have approved (rollback, revoke) or to the emergency group
(break-glass), is audited with its reason, and emits an event a rule can notify on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from signoff.domain import events
from signoff.domain.approvals import RequestState
from signoff.domain.gates import evaluate_gates
from signoff.domain.models import Stage
from signoff.domain.workflow import Workflow
from signoff.errors import (
    ArtifactMismatch,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from signoff.services.approval_path import (
    candidate_evidence,
    live_metrics_now,
    make_live,
    member_groups,
)
from signoff.services.artifacts import digest_of as artifact_digest
from signoff.services.live import clear_live, parameter_name, point_live, refresh_approved_envs
from signoff.services.ports import UnitOfWork
from signoff.services.records import ModelRecord, PromotionRecord, VersionRecord
from signoff.services.representations import live_from_record

MIN_JUSTIFICATION = 10  # "hotfix" is not a justification; a sentence is
_MADE_LIVE_BY_APPROVAL = ("approval", "auto_approve", "break_glass")


def _require_approver(uow: UnitOfWork, workflow: Workflow, actor: str, env: str, what: str) -> None:
    policy = workflow.policy(env)
    if not policy.may_decide(member_groups(uow, actor)):
        raise PermissionDenied(
            f"{actor} is not a member of an approver group for {env} ({', '.join(policy.approvers)}) "
            f"and may not {what} there",
            details={"required_groups": list(policy.approvers)},
        )


def _stage(uow: UnitOfWork, version_row: VersionRecord, env: str) -> Stage:
    return uow.versions.stages([version_row.id])[version_row.id].get(env, Stage.PENDING)


def _previous_approved(uow: UnitOfWork, model_row: ModelRecord, env: str, exclude: int | None) -> VersionRecord | None:
    """The most recently live version that is still Approved in env (the rollback target)."""
    seen: set[int] = set()
    for move in reversed(uow.live.history(model_row.id, env)):
        vid = move.version_id
        if vid is None or vid == exclude or vid in seen:
            continue
        seen.add(vid)
        row = uow.versions.by_id(vid)
        if _stage(uow, row, env) is Stage.APPROVED:
            return row
    return None


def _original_approval(
    uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord, env: str,
) -> tuple[list[str], Any, int | None]:
    """Who approved this version in env and when: a rollback restores that, not a new approval."""
    moves: list[PromotionRecord] = [m for m in uow.live.history(model_row.id, env)
                                 if m.version_id == version_row.id and m.kind in _MADE_LIVE_BY_APPROVAL]
    if not moves:
        return [], uow.clock.now(), None
    move = moves[-1]
    if move.request_id is not None and move.kind == "approval":
        row = uow.requests.row(move.request_id)
        request = uow.requests.to_entity(row, model_row.name, version_row.number, workflow.policy(env))
        return request.approvers, move.at, move.request_id
    return [move.actor], move.at, move.request_id


def _live_dict(uow: UnitOfWork, model: str, env: str) -> dict[str, Any] | None:
    uow.flush()
    row = uow.live.row(model, env)
    return live_from_record(row).to_dict() if row is not None else None


def _verify_artifact(version_row: VersionRecord, require_digest: bool,
                     digest_of: Callable[[str], str]) -> dict[str, Any] | None:
    """None when the artifact's bytes still hash to the approved digest, else what was found instead."""
    expected = version_row.digest
    if expected is None:
        return None if not require_digest else {"expected_digest": None, "digest": None,
                                                "problem": "no digest was recorded, so the bytes cannot be checked"}
    try:
        actual = digest_of(version_row.artifact_uri)
    except NotFound:
        return {"expected_digest": expected, "digest": None, "problem": "the artifact is missing"}
    except (InvalidInput, OSError) as exc:
        return {"expected_digest": expected, "digest": None,
                "problem": f"the artifact cannot be read here to check it ({exc})"}
    if actual != expected:
        return {"expected_digest": expected, "digest": actual, "problem": f"the artifact now has digest {actual}"}
    return None


def rollback(
    *, uow: UnitOfWork, workflow: Workflow, model: str, env: str, actor: str, to_version: int | None = None,
    reason: str = "", digest_of: Callable[[str], str] = artifact_digest,
) -> dict[str, Any]:
    """Make an earlier version Approved in env live again, after checking its bytes are the approved ones.

    Raises PermissionDenied, InvalidTransition, ArtifactMismatch (audited), NotFound.
    """
    workflow.check_env(env)
    outcome = _rollback_in_tx(uow=uow, workflow=workflow, model=model, env=env, actor=actor, to_version=to_version,
                              reason=reason, digest_of=digest_of)
    if "refused" not in outcome:
        return outcome
    details = outcome["refused"]
    # The refusal leaves a trace of its own, since its transaction wrote nothing.
    subject = f"models/{model}/versions/{details['version']}"
    with uow:
        uow.record(actor=actor, action="environment.rollback_refused", subject=subject, model=model,
                   after={"env": env, "reason": reason, **details})
        uow.commit()
    raise ArtifactMismatch(
        f"version {details['version']} of {model!r} cannot be made live in {env} again: {details['problem']}, "
        f"but {details['expected_digest']} was approved",
        details={"model": model, "env": env, "uri": details["uri"], "version": details["version"],
                 "expected_digest": details["expected_digest"], "digest": details["digest"]},
    )


def _rollback_in_tx(
    *, uow: UnitOfWork, workflow: Workflow, model: str, env: str, actor: str, to_version: int | None,
    reason: str, digest_of: Callable[[str], str],
) -> dict[str, Any]:
    with uow:
        model_row = uow.models.row(model)
        _require_approver(uow, workflow, actor, env, "roll it back")
        current = uow.live.row(model, env)
        if to_version is None:
            target = _previous_approved(uow, model_row, env, exclude=current.version_id if current else None)
            if target is None:
                raise InvalidTransition(
                    f"no earlier version of {model!r} is Approved in {env}; nothing to roll back to",
                    details={"model": model, "env": env},
                )
        else:
            target = uow.versions.row(model_row, to_version)
            stage = _stage(uow, target, env)
            if stage is not Stage.APPROVED:
                raise InvalidTransition(
                    f"version {to_version} of {model!r} is {stage.value} in {env}; only a version Approved "
                    "there can be made live again",
                    details={"model": model, "version": to_version, "env": env, "state": stage.value},
                )
            if current is not None and current.version_id == target.id:
                raise InvalidTransition(f"version {to_version} of {model!r} is already live in {env}",
                                        details={"model": model, "version": to_version, "env": env})
        problem = _verify_artifact(target, workflow.policy(env).require_digest, digest_of)
        if problem is not None:
            return {"refused": {"version": target.number, "uri": target.artifact_uri, **problem}}
        approvers, approved_at, request_id = _original_approval(uow, workflow, model_row, target, env)
        param_version, previous, _ = point_live(
            uow, workflow, model_row, target, env, approvers=approvers, approved_at=approved_at,
            request_id=request_id, actor=actor, kind="rollback", reason=reason,
            extra={"changed_by": actor, "reason": reason},
        )
        subject = f"models/{model}/versions/{target.number}"
        change = {"env": env, "from_version": previous.number if previous else None, "to_version": target.number,
                  "reason": reason, "parameter": parameter_name(model, env), "parameter_version": param_version}
        uow.record(actor=actor, action="environment.rolled_back", subject=subject, model=model,
                   before={"env": env, "live_version": change["from_version"]}, after=change)
        uow.emit(events.rolled_back(subject=subject, model=model, version=target.number, actor=actor,
                                    owner_group=model_row.owner_group,
                                    approvers=list(workflow.policy(env).approvers), change=change))
        live = _live_dict(uow, model, env)
        uow.commit()
    return {**(live or {}), "previous_version": change["from_version"], "change": "rollback"}


def revoke(
    *, uow: UnitOfWork, workflow: Workflow, model: str, version: int, env: str, actor: str, reason: str,
    only_env: bool = False,
) -> dict[str, Any]:
    """Mark a version Revoked in env and every later environment where it is Approved (`only_env`: env
    alone); wherever it was live, the previous approved version (or none) is live. One transaction.

    Raises InvalidInput (no reason), PermissionDenied, InvalidTransition, NotFound.
    """
    workflow.check_env(env)
    if not reason or not reason.strip():
        raise InvalidInput("a revocation needs a reason", details={"field": "reason"})
    with uow:
        model_row = uow.models.row(model)
        version_row = uow.versions.row(model_row, version)
        # Approvers of env may take the version out of later environments too: revoking only
        # removes trust (each pointer falls back to a version approved there), it grants none.
        _require_approver(uow, workflow, actor, env, "revoke a version")
        before = _stage(uow, version_row, env)
        if before in (Stage.REVOKED, Stage.REJECTED):
            raise InvalidTransition(f"version {version} of {model!r} is already {before.value} in {env}",
                                    details={"model": model, "version": version, "env": env, "state": before.value})
        stages = uow.versions.stages([version_row.id])[version_row.id]
        later = list(workflow.order[workflow.index(env) + 1:])
        targets = [env] if only_env else [env] + [e for e in later if stages.get(e) is Stage.APPROVED]
        # Requests that rest on a revoked environment no longer hold: its own, and the next one's
        # (with the cascade: every later one, since the version must not be used at all).
        cancel_in = [e for e in (env, workflow.next(env)) if e] if only_env else [env] + later
        results = [_revoke_in(uow, workflow, model_row, version_row, e, actor, reason,
                              _stage(uow, version_row, e)) for e in targets]
        cancelled = _cancel_open(uow, version_row, cancel_in)
        stages = uow.versions.stages([version_row.id])[version_row.id]
        refresh_approved_envs(uow, version_row.id, [e for e in workflow.order if stages.get(e) is Stage.APPROVED])
        subject = f"models/{model}/versions/{version}"
        for result in results:
            if result["env"] == env:
                result["cancelled_requests"] = cancelled
            before_status = result.pop("before")
            uow.record(actor=actor, action="version.revoked", subject=subject, model=model,
                       before={"env": result["env"], "status": before_status}, after=result)
            uow.emit(events.version_revoked(
                model=model, version=version, revoked_by=actor, owner_group=model_row.owner_group,
                registered_by=version_row.registered_by, approvers=list(workflow.policy(result["env"]).approvers),
                revoked_in=env, result=result,
            ))
        uow.commit()
    first = results[0]
    return {"model": model, "version": version, **first, "environments": results}


def _revoke_in(uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord, env: str,
               actor: str, reason: str, before: Stage) -> dict[str, Any]:
    """Revoked in one environment; its live pointer falls back to the previous approved version, or none."""
    uow.versions.set_stage(version_row.id, env, Stage.REVOKED, actor=actor, at=uow.clock.now())
    live = uow.live.row(model_row.name, env)
    was_live = live is not None and live.version_id == version_row.id
    replacement, param_version = None, None
    extra = {"changed_by": actor, "reason": reason, "revoked_version": version_row.number}
    if was_live:
        replacement = _previous_approved(uow, model_row, env, exclude=version_row.id)
        if replacement is not None:
            approvers, approved_at, request_id = _original_approval(uow, workflow, model_row, replacement, env)
            param_version, _, _ = point_live(uow, workflow, model_row, replacement, env, approvers=approvers,
                                             approved_at=approved_at, request_id=request_id, actor=actor,
                                             kind="revoke", reason=reason, extra=extra)
        else:
            param_version, _ = clear_live(uow, model_row, env, actor=actor, kind="revoke", reason=reason,
                                          extra=extra)
    live_version = replacement.number if replacement else (None if was_live else (live.number if live else None))
    return {"env": env, "status": Stage.REVOKED.value, "reason": reason, "was_live": was_live,
            "live_version": live_version, "parameter_version": param_version, "cancelled_requests": [],
            "before": before.value}


def _cancel_open(uow: UnitOfWork, version_row: VersionRecord, envs: list[str]) -> list[int]:
    cancelled = []
    now = uow.clock.now()
    for env in envs:
        row = uow.requests.open_for(version_row.id, env)
        if row is not None:
            row.state, row.decided_at = RequestState.CANCELLED.value, now
            cancelled.append(row.id)
    return cancelled


def break_glass(
    *, uow: UnitOfWork, workflow: Workflow, model: str, version: int, env: str, actor: str, justification: str,
    emergency_group: str,
) -> dict[str, Any]:
    """Make a version live in env without its approval; emergency group only, loudly audited.

    Raises InvalidInput (no justification), PermissionDenied, InvalidTransition, NotFound.
    """
    workflow.check_env(env)
    if not justification or len(justification.strip()) < MIN_JUSTIFICATION:
        raise InvalidInput(f"break-glass needs a written justification (at least {MIN_JUSTIFICATION} characters)",
                           details={"field": "justification"})
    subject = f"models/{model}/versions/{version}"
    with uow:
        model_row = uow.models.row(model)
        version_row = uow.versions.row(model_row, version)
        groups = member_groups(uow, actor)
        member = emergency_group in groups
        stages = uow.versions.stages([version_row.id])[version_row.id]
        final = [e for e in workflow.order if stages.get(e) in (Stage.REJECTED, Stage.REVOKED)]
        if member and not final:
            result = _break_glass_in_tx(uow, workflow, model_row, version_row, env, actor, justification.strip(),
                                        emergency_group, sorted(groups))
            uow.commit()
            return result
    # A refused attempt is worth a trace too: its own transaction, then the refusal.
    refusal = "not_member" if not member else "decided_against"
    with uow:
        uow.record(actor=actor, action="promotion.break_glass_refused", subject=subject, model=model,
                   after={"env": env, "justification": justification, "groups": sorted(groups),
                          "emergency_group": emergency_group, "refusal": refusal,
                          "decided_against_in": {e: stages[e].value for e in final}})
        uow.commit()
    if member:
        said = ", ".join(f"{stages[e].value} in {e}" for e in final)
        raise InvalidTransition(
            f"version {version} of {model!r} is {said}; a rejection or revocation is final, break-glass included",
            details={"model": model, "version": version, "env": env,
                     "decided_against_in": {e: stages[e].value for e in final}},
        )
    raise PermissionDenied(
        f"{actor} is not a member of the emergency group {emergency_group!r}; break-glass refused",
        details={"required_groups": [emergency_group]},
    )


def _break_glass_in_tx(
    uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord, env: str, actor: str,
    justification: str, emergency_group: str, groups: list[str],
) -> dict[str, Any]:
    stages = uow.versions.stages([version_row.id])[version_row.id]
    current = stages.get(env, Stage.PENDING)
    if current is not Stage.PENDING:
        raise InvalidTransition(
            f"version {version_row.number} of {model_row.name!r} is {current.value} in {env}; break-glass "
            "skips a missing approval, it does not overturn a decision (use rollback for an Approved version)",
            details={"model": model_row.name, "version": version_row.number, "env": env, "state": current.value},
        )
    upto = workflow.order[: workflow.index(env) + 1]
    skipped = [e for e in upto if stages.get(e, Stage.PENDING) is not Stage.APPROVED]
    policy = workflow.policy(env)
    evidence = candidate_evidence(uow, workflow, version_row, env)
    gates = [g.to_dict() for g in evaluate_gates(policy.gates, evidence, live_metrics_now(uow, model_row.name, env))]
    cancelled = _cancel_open(uow, version_row, [env])
    param_version = make_live(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row, env=env,
                               request_id=cancelled[0] if cancelled else None, approvers=[actor], actor=actor,
                               kind="break_glass", reason=justification)
    subject = f"models/{model_row.name}/versions/{version_row.number}"
    data = {"env": env, "justification": justification, "skipped_envs": skipped, "gate_results": gates,
            "failed_gates": [g["gate"] for g in gates if not g["passed"]], "emergency_group": emergency_group,
            "actor_groups": groups, "cancelled_requests": cancelled, "parameter_version": param_version}
    uow.record(actor=actor, action="promotion.break_glass", subject=subject, model=model_row.name, after=data)
    uow.emit(events.break_glass(
        model=model_row.name, version=version_row.number, actor=actor, owner_group=model_row.owner_group,
        registered_by=version_row.registered_by, approvers=list(policy.approvers), details=data,
    ))
    live = _live_dict(uow, model_row.name, env)
    return {**(live or {}), **data, "change": "break_glass"}
