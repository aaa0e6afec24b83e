"""Inference reports: what an inference pipeline saw, and the promotion it asks for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signoff.domain import events
from signoff.domain.approvals import ApprovalRequest
from signoff.domain.models import Stage, check_metrics
from signoff.domain.workflow import Workflow
from signoff.errors import InvalidInput, InvalidTransition
from signoff.services.approval_path import open_promotion_request
from signoff.services.drift import assess_batch, check_profile
from signoff.services.evidence import report_source
from signoff.services.ports import UnitOfWork


def report_inference(
    *,
    uow: UnitOfWork,
    workflow: Workflow,
    model: str,
    version: int,
    env: str,
    actor: str,
    metrics: dict[str, Any],
    rows: int = 0,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    profile: dict[str, Any] | None = None,
    open_promotion: bool = False,
) -> tuple[dict[str, Any], ApprovalRequest | None]:
    """Store a report for the version live in env; the next environment's request follows.

    The rule `default-request-promotion` opens that request after the commit (inline in
    embedded use, else a worker); it is returned when it exists by the time this returns.

    Raises NotFound, InvalidInput, InvalidTransition (the version is not the one live in env).
    """
    workflow.check_env(env)
    clean = check_metrics(metrics)
    if rows < 0:
        raise InvalidInput("rows must be >= 0", details={"field": "rows"})
    if profile:
        check_profile(profile)
    if started_at and finished_at and finished_at < started_at:
        raise InvalidInput("finished_at is before started_at", details={"field": "finished_at"})
    with uow:
        model_row = uow.models.row(model)
        version_row = uow.versions.row(model_row, version)
        uow.live.lock(model, env)  # a pointer move racing this report waits, or is waited for
        live = uow.live.row(model, env)
        if live is None or live.version_id != version_row.id:
            # Metrics of a version nobody serves there are not evidence of anything (and would
            # become the next environment's evidence): only the live version reports.
            stage = uow.versions.stages([version_row.id])[version_row.id].get(env, Stage.PENDING)
            live_number = live.number if live is not None else None
            where = f"version {live_number} is live there" if live is not None else "nothing is live there"
            raise InvalidTransition(
                f"version {version} of {model!r} is not live in {env} ({where}); reports are accepted only "
                "for the version live in that environment",
                details={"model": model, "version": version, "env": env, "state": stage.value,
                         "live_version": live_number},
            )
        now = uow.clock.now()
        row = uow.reports.add(
            version_id=version_row.id, env=env, metrics=clean, rows=rows, profile=profile or {},
            started_at=started_at, finished_at=finished_at, reported_by=actor, reported_at=now,
        )
        subject = f"models/{model}/versions/{version}"
        next_env = workflow.next(env)
        drift = assess_batch(uow=uow, workflow=workflow, model_row=model_row, version_row=version_row, env=env,
                             profile=profile, report_id=row.id, actor=actor)
        report = {"id": row.id, "model": model, "version": version, "env": env, "metrics": clean, "rows": rows,
                  "started_at": started_at.isoformat() if started_at else None,
                  "finished_at": finished_at.isoformat() if finished_at else None, "next_env": next_env,
                  "drifted_features": drift["drifted"] if drift else [], "drift": drift}
        uow.record(actor=actor, action="inference.reported", subject=subject, model=model, after=report)
        uow.emit(events.inference_completed(subject=subject, report=report, reported_by=actor))
        request = None
        if open_promotion and next_env is not None:
            next_stage = uow.versions.stages([version_row.id])[version_row.id].get(next_env, Stage.PENDING)
            already = uow.requests.open_for(version_row.id, next_env)
            if next_stage is Stage.PENDING and already is None:
                request = open_promotion_request(uow, workflow, model_row, version_row, next_env, actor,
                                           f"inference report {row.id} in {env}", clean, report_source(row))
        uow.commit()
    if request is None and next_env is not None and open_promotion is False:
        request = _opened_for_report(uow, workflow, model, version, version_row.id, next_env,
                                     f"inference report {row.id} in {env}")
    return report, request


def _opened_for_report(uow: UnitOfWork, workflow: Workflow, model: str, version: int, version_id: int, env: str,
                       reason: str) -> ApprovalRequest | None:
    """The request the promotion rule opened for this report, if it has run already."""
    with uow:
        rows = [r for r in uow.requests.list(version_id=version_id, env=env, limit=1000) if r.reason == reason]
        if not rows:
            return None
        return uow.requests.to_entity(rows[-1], model, version, workflow.policy(env))
