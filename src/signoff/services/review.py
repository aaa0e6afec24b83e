"""Read models for people: the review page, the "waiting for me" queue, the models overview.

Everything here only reads. Whether a viewer may approve is answered by asking the request's
own state machine (`check_can_decide`) with the facts `decide` would load, so the page and the
POST can never disagree about who may do what.
"""

from __future__ import annotations

from typing import Any

from signoff.domain.approvals import ApprovalRequest, RequestState, Verdict
from signoff.domain.workflow import Workflow
from signoff.errors import SignoffError
from signoff.services.approval_path import decision_context, request_entity
from signoff.services.drift_view import drift_in
from signoff.services.esign import with_signatures_in
from signoff.services.evidence import build_evidence_snapshot, metric_rows, source_label
from signoff.services.outlook import outlook_in
from signoff.services.ports import UnitOfWork
from signoff.services.records import ModelRecord, RequestRecord, VersionRecord
from signoff.services.representations import report_to_dict


def _why_not(uow: UnitOfWork, workflow: Workflow, request: ApprovalRequest, version_row: VersionRecord,
             model_row: ModelRecord, viewer: str, groups: set[str], verdict: Verdict) -> str | None:
    """None when `viewer` may record `verdict` now, else the reason in words."""
    ctx = decision_context(uow, workflow, model_row, version_row, request.env, viewer, groups)
    if version_row.digest != request.digest:
        return "the artifact changed since this request was opened; its evidence no longer holds"
    try:
        request.check_can_decide(verdict, ctx)
    except SignoffError as exc:
        return exc.message
    return None


def frozen_evidence(request: ApprovalRequest) -> dict[str, Any] | None:
    """The snapshot stored with the decision that closed the request (else with its latest decision)."""
    for decision in reversed(request.decisions):
        if decision.evidence:
            return decision.evidence
    return None


def review(*, uow: UnitOfWork, workflow: Workflow, request_id: int, viewer: str | None = None) -> dict[str, Any]:
    """Everything the review page shows, and what `viewer` may do; raises NotFound.

    An open request shows the evidence as it stands now (what a decision would freeze); a
    closed one shows the snapshot frozen with its deciding decision, never a recomputation.
    """
    with uow:
        return _review_in(uow, workflow, request_id, viewer)[0]


def review_page(*, uow: UnitOfWork, workflow: Workflow, request_id: int, viewer: str) -> dict[str, Any]:
    """`review` and what the page shows beside it (signatures, what a decision would do, the drift
    behind the evidence), read in one transaction: one snapshot of the request, and a fraction of
    the round trips that five separate reads cost. Raises NotFound."""
    with uow:
        out, request, version_row = _review_in(uow, workflow, request_id, viewer)
        out["request"] = with_signatures_in(uow, [out["request"]])[0]
        out["outlook"] = outlook_in(uow, workflow, request, viewer)
        source = request.evidence_source or {}
        out["drift"] = None
        if source.get("source") == "inference" and isinstance(source.get("report_id"), int):
            out["drift"] = drift_in(uow, workflow, model=request.model, version=request.version,
                                    version_id=version_row.id, report_id=source["report_id"])
        return out


def _review_in(uow: UnitOfWork, workflow: Workflow, request_id: int,
               viewer: str | None) -> tuple[dict[str, Any], ApprovalRequest, VersionRecord]:
    row = uow.requests.row(request_id)
    model_row = uow.models.by_id(row.model_id)
    version_row = uow.versions.by_id(row.version_id)
    request = request_entity(uow, workflow, row)
    version = uow.versions.to_entity(model_row, version_row, workflow)
    snapshot: dict[str, Any] | None
    if request.state is RequestState.OPEN:
        snapshot, frozen = build_evidence_snapshot(uow=uow, workflow=workflow, model_row=model_row,
                                                   version_row=version_row, request=request), False
    else:
        snapshot, frozen = frozen_evidence(request), True
    live = None
    if snapshot is not None and snapshot.get("live") and not snapshot["live"].get("is_candidate"):
        live = snapshot["live"]
    out: dict[str, Any] = {
        "request": request.to_dict(), "version": version.to_dict(), "live": live,
        "evidence": snapshot, "evidence_frozen": frozen and snapshot is not None,
        "evidence_label": source_label(request.evidence_source),
        "live_label": source_label(live.get("metrics_source")) if live else None,
        "metrics": snapshot["metrics"] if snapshot else metric_rows(request.evidence, None),
        "training_metrics": dict(version_row.metrics or {}),
        "changes": snapshot.get("changes", []) if snapshot else [],
        "reports": [report_to_dict(r) for r in uow.reports.list(version_row.id)],
        "viewer": None,
    }
    if viewer is not None:
        user = uow.users.find(viewer)
        groups = uow.users.groups_of(viewer) if user is not None and not user.disabled else set()
        is_approver = request.policy.may_decide(groups)
        out["viewer"] = {
            "name": viewer, "is_approver": is_approver,
            "approve": _why_not(uow, workflow, request, version_row, model_row, viewer, groups, Verdict.APPROVE),
            "reject": _why_not(uow, workflow, request, version_row, model_row, viewer, groups, Verdict.REJECT),
        }
    return out, request, version_row


def waiting_for(*, uow: UnitOfWork, workflow: Workflow, user: str, limit: int = 200) -> list[dict[str, Any]]:
    """Open requests in environments `user` approves for, that `user` has not decided on yet."""
    with uow:
        groups = uow.users.groups_of(user)
        envs = [env for env in workflow.order if workflow.policy(env).may_decide(groups)]
        out = []
        for env in envs:
            for row in uow.requests.list(state=RequestState.OPEN.value, env=env, limit=limit):
                request = request_entity(uow, workflow, row)
                if any(d.actor == user for d in request.decisions):
                    continue
                version_row = uow.versions.by_id(row.version_id)
                item = request.to_dict()
                item["registered_by"] = version_row.registered_by
                item["own_version"] = version_row.registered_by == user
                out.append(item)
        return sorted(out, key=lambda r: r["id"])


def overview(*, uow: UnitOfWork, workflow: Workflow, limit: int = 500) -> list[dict[str, Any]]:
    """Every model with the version live in each environment and its open request count."""
    with uow:
        out = []
        for model in uow.models.list(limit=limit):
            live = {env: (row.number if (row := uow.live.row(model.name, env)) is not None else None)
                    for env in workflow.order}
            model_row = uow.models.row(model.name)
            open_requests = len(uow.requests.list(state="open", model_id=model_row.id, limit=1000))
            out.append({**model.to_dict(), "live": live, "open_requests": open_requests})
        return out


def version_requests(*, uow: UnitOfWork, workflow: Workflow, model: str, version: int) -> list[dict[str, Any]]:
    """The requests of one version, oldest first; raises NotFound."""
    with uow:
        model_row = uow.models.row(model)
        version_row = uow.versions.row(model_row, version)
        rows: list[RequestRecord] = uow.requests.list(version_id=version_row.id, limit=1000)
        return [request_entity(uow, workflow, r).to_dict() for r in rows]


def version_reports(*, uow: UnitOfWork, model: str, version: int) -> list[dict[str, Any]]:
    """Inference reports of one version, oldest first; raises NotFound."""
    with uow:
        model_row = uow.models.row(model)
        return [report_to_dict(r) for r in uow.reports.list(uow.versions.row(model_row, version).id)]
