"""Read models for people: the review page, the "waiting for me" queue, the models overview.

Everything here only reads. Whether a viewer may approve is answered by asking the request's
own state machine (`check_can_decide`) with the facts `decide` would load, so the page and the
POST can never disagree about who may do what.
"""

from __future__ import annotations

from typing import Any

from signoff.adapters.db.repositories import report_to_dict
from signoff.adapters.db.tables import ModelRow, RequestRow, VersionRow
from signoff.domain.approvals import ApprovalRequest, DecisionContext, RequestState, Verdict
from signoff.domain.workflow import Workflow
from signoff.errors import SignoffError
from signoff.services.approvals import _entity, _live_metrics, _live_since
from signoff.services.ports import UnitOfWork

LINEAGE_FIELDS = ("run_id", "code_commit", "dataset_hash")


def _why_not(uow: UnitOfWork, workflow: Workflow, request: ApprovalRequest, version_row: VersionRow,
             model_row: ModelRow, viewer: str, groups: set[str], verdict: Verdict) -> str | None:
    """None when `viewer` may record `verdict` now, else the reason in words."""
    previous = workflow.previous(request.env)
    ctx = DecisionContext(
        actor=viewer, groups=groups, registrant=version_row.registered_by,
        previous_stage_approvers=uow.requests.approvers_of(version_row.id, previous) if previous else set(),
        now=uow.clock.now(), live_since_previous=_live_since(uow, model_row, version_row, previous),
    )
    if version_row.digest != request.digest:
        return "the artifact changed since this request was opened; its evidence no longer holds"
    try:
        request.check_can_decide(verdict, ctx)
    except SignoffError as exc:
        return exc.message
    return None


def _live_side(uow: UnitOfWork, model_row: ModelRow, env: str) -> dict[str, Any] | None:
    live = uow.live.row(model_row.name, env)
    if live is None:
        return None
    row = uow.versions.by_id(live.version_id)
    return {
        "version": live.number, "digest": live.digest, "flavor": live.flavor, "artifact_uri": live.artifact_uri,
        "approved_by": list(live.approved_by or []), "since": live.since, "metrics": _live_metrics(uow, model_row.name, env) or {},
        "lineage": {f: getattr(row, f) for f in LINEAGE_FIELDS}, "metadata": dict(row.meta or {}),
    }


def metric_rows(candidate: dict[str, float], live: dict[str, float] | None) -> list[dict[str, Any]]:
    """One row per metric: the candidate's value, the live version's, and the difference."""
    live = live or {}
    rows = []
    for name in sorted(set(candidate) | set(live)):
        c, lv = candidate.get(name), live.get(name)
        delta = c - lv if c is not None and lv is not None else None
        rows.append({"name": name, "candidate": c, "live": lv, "delta": delta})
    return rows


def _changes(version_row: VersionRow, live: dict[str, Any] | None) -> list[dict[str, Any]]:
    if live is None:
        return []
    pairs = [("artifact digest", version_row.digest, live["digest"]), ("flavor", version_row.flavor, live["flavor"])]
    pairs += [(f.replace("_", " "), getattr(version_row, f), live["lineage"][f]) for f in LINEAGE_FIELDS]
    meta, live_meta = dict(version_row.meta or {}), live["metadata"]
    pairs += [(f"metadata.{k}", meta.get(k), live_meta.get(k)) for k in sorted(set(meta) | set(live_meta))]
    return [{"field": f, "candidate": c, "live": lv, "same": c == lv} for f, c, lv in pairs]


def review(*, uow: UnitOfWork, workflow: Workflow, request_id: int, viewer: str | None = None) -> dict[str, Any]:
    """Everything the review page shows, and what `viewer` may do; raises NotFound."""
    with uow:
        row = uow.requests.row(request_id)
        model_row = uow.session.get(ModelRow, row.model_id)  # type: ignore[attr-defined]
        version_row = uow.versions.by_id(row.version_id)
        request = _entity(uow, workflow, row)
        version = uow.versions.to_entity(model_row, version_row, workflow)
        live = _live_side(uow, model_row, row.env)
        if live is not None and live["version"] == version_row.number:
            live = None  # the candidate itself (a decided request): nothing to compare with
        out: dict[str, Any] = {
            "request": request.to_dict(), "version": version.to_dict(), "live": live,
            "metrics": metric_rows(request.evidence, live["metrics"] if live else None),
            "training_metrics": dict(version_row.metrics or {}),
            "changes": _changes(version_row, live),
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
        return out


def waiting_for(*, uow: UnitOfWork, workflow: Workflow, user: str, limit: int = 200) -> list[dict[str, Any]]:
    """Open requests in environments `user` approves for, that `user` has not decided on yet."""
    with uow:
        groups = uow.users.groups_of(user)
        envs = [env for env in workflow.order if workflow.policy(env).may_decide(groups)]
        out = []
        for env in envs:
            for row in uow.requests.list(state=RequestState.OPEN.value, env=env, limit=limit):
                request = _entity(uow, workflow, row)
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
        rows: list[RequestRow] = uow.requests.list(version_id=version_row.id, limit=1000)
        return [_entity(uow, workflow, r).to_dict() for r in rows]


def version_reports(*, uow: UnitOfWork, model: str, version: int) -> list[dict[str, Any]]:
    """Inference reports of one version, oldest first; raises NotFound."""
    with uow:
        model_row = uow.models.row(model)
        return [report_to_dict(r) for r in uow.reports.list(uow.versions.row(model_row, version).id)]
