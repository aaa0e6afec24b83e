"""Time-driven changes to requests: expiry, and reminders for requests left open too long.

Run periodically by workers (any number at once: each change is a conditional update inside
one transaction, so two sweeps never expire or remind the same request twice). Both only
emit events; rules turn them into mail (expiry notice to the registrant, reminder to the
approvers).
"""

from __future__ import annotations

from typing import Any

from signoff.domain import events
from signoff.domain.approvals import RequestState
from signoff.domain.workflow import Workflow
from signoff.services.approval_path import live_metrics_now, request_entity
from signoff.services.ports import UnitOfWork
from signoff.services.records import RequestRecord

BATCH = 500


def _payload(uow: UnitOfWork, workflow: Workflow, row: RequestRecord) -> dict[str, Any]:
    request = request_entity(uow, workflow, row)
    model_row = uow.models.by_id(row.model_id)
    version_row = uow.versions.by_id(row.version_id)
    live = uow.live.row(model_row.name, row.env)
    return events.request_state(
        request_id=row.id, model=model_row.name, version=version_row.number, env=row.env, kind=row.kind,
        requested_by=row.requested_by, registered_by=version_row.registered_by,
        approvers=list(request.policy.approvers), evidence=dict(row.evidence or {}),
        live_version=live.number if live is not None else None,
        live_metrics=live_metrics_now(uow, model_row.name, row.env), gate_results=list(row.gate_results or []),
        missing=request.missing(), created_at=row.created_at, expires_at=row.expires_at,
    )


def sweep_requests(*, uow: UnitOfWork, workflow: Workflow) -> dict[str, list[int]]:
    """Expire open requests past their expiry and remind approvers of overdue ones; returns the ids."""
    expired: list[int] = []
    reminded: list[int] = []
    with uow:
        now = uow.clock.now()
        for row in uow.requests.list(state=RequestState.OPEN.value, limit=BATCH):
            subject = None
            if row.expires_at is not None and now >= row.expires_at:
                # Locked and re-read: a decision committed since the list above wins (FOR UPDATE,
                # as `decide` takes it), and the request is then left alone.
                row = uow.requests.row(row.id, lock=True)
                if row.state != RequestState.OPEN.value:
                    continue
                data = _payload(uow, workflow, row)
                row.state, row.decided_at = RequestState.EXPIRED.value, now
                subject = events.version_subject(data["model"], data["version"])
                uow.record(actor="signoff:sweep", action="approval.expired", subject=subject, model=data["model"],
                           before={"request_id": row.id, "state": "open"},
                           after={"request_id": row.id, "env": row.env, "state": "expired",
                                  "expires_at": data["expires_at"]})
                uow.emit(events.request_status(events.APPROVAL_EXPIRED, data))
                expired.append(row.id)
                continue
            every = workflow.policy(row.env).remind_every if row.env in workflow.order else None
            if every is None:
                continue
            if now - (row.reminded_at or row.created_at) >= every:
                data = _payload(uow, workflow, row)
                row.reminded_at = now
                uow.emit(events.request_status(events.APPROVAL_REMINDER, data))
                reminded.append(row.id)
        uow.commit()
    return {"expired": expired, "reminded": reminded}
