"""Built-in targets: the workflow steps rules trigger, and email.

`request_approval` and `request_promotion` run inside the transaction that completes their
delivery, so each delivery takes effect once. They are idempotent on top of that: a request
that is already open, or a stage that is no longer pending, makes them do nothing, so two
rules (or a replay) can never open a request twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from signoff.domain import events
from signoff.domain.deliveries import Job, Outcome
from signoff.domain.models import Stage, check_metrics
from signoff.domain.notifications import render
from signoff.domain.workflow import Workflow
from signoff.errors import Conflict, DeliveryFailed, InvalidInput, SignoffError
from signoff.services.approval_path import open_promotion_request
from signoff.services.emails import message_id
from signoff.services.evidence import report_source
from signoff.services.ports import Mailer, MailMessage, UnitOfWork

RULE_ACTOR = "signoff:rules"


def _subject_of(uow: UnitOfWork, job: Job) -> tuple[Any, Any, dict[str, Any]]:
    data = job.event.get("data") or {}
    model, version = data.get("model"), data.get("version")
    if not isinstance(model, str) or not isinstance(version, int) or isinstance(version, bool):
        raise InvalidInput(f"a {job.target_type} target needs an event with data.model and data.version",
                           details={"event_type": job.event.get("type")})
    model_row = uow.models.row(model)
    return model_row, uow.versions.row(model_row, version), data


def _open(uow: UnitOfWork, workflow: Workflow, model_row: Any, version_row: Any, env: str, *, actor: str,
          reason: str, evidence: dict[str, float] | None,
          evidence_source: dict[str, Any] | None = None) -> dict[str, Any]:
    stage = uow.versions.stages([version_row.id])[version_row.id].get(env, Stage.PENDING)
    if stage is not Stage.PENDING:
        return {"skipped": f"version {version_row.number} is {stage.value} in {env}", "env": env}
    already = uow.requests.open_for(version_row.id, env)
    if already is not None:
        return {"skipped": "a request is already open", "request_id": already.id, "env": env}
    try:
        # In a savepoint: when another worker's request wins the unique index, PostgreSQL aborts
        # the whole transaction, and this delivery could not even record that it had nothing to do.
        with uow.savepoint():
            request = open_promotion_request(uow, workflow, model_row, version_row, env, actor, reason, evidence,
                                       evidence_source)
    except Conflict as exc:  # promotion order, a racing request: nothing to do, nothing to retry
        return {"skipped": exc.message, "env": env}
    return {"request_id": request.id, "env": env, "state": request.state.value}


def request_approval(*, uow: UnitOfWork, workflow: Workflow, job: Job) -> dict[str, Any]:
    """Open the request for the event's version in the target's env (default: the first)."""
    model_row, version_row, data = _subject_of(uow, job)
    env = workflow.check_env(job.target.env or workflow.first)
    registered = job.event.get("type") == events.REGISTERED
    actor = data.get("registered_by") or version_row.registered_by
    return _open(uow, workflow, model_row, version_row, env, actor=actor,
                 reason="registered" if registered else f"rule {job.rule}", evidence=None)


def request_promotion(*, uow: UnitOfWork, workflow: Workflow, job: Job) -> dict[str, Any]:
    """Open the request for the next environment (the target's env, else the event's next_env)."""
    model_row, version_row, data = _subject_of(uow, job)
    env = job.target.env or data.get("next_env")
    if env is None and isinstance(data.get("env"), str):
        env = workflow.next(workflow.check_env(data["env"]))
    if env is None:
        return {"skipped": "no next environment"}
    workflow.check_env(env)
    source = None
    metrics: Any
    if job.event.get("type") == events.INFERENCE_COMPLETED:
        reason = f"inference report {data.get('id')} in {data.get('env')}"
        actor = data.get("reported_by") or RULE_ACTOR
        # The stored report, not the event's copy of it, is the evidence (and says where it came from).
        report = next((r for r in uow.reports.list(version_row.id) if r.id == data.get("id")), None)
        if report is not None:
            metrics, source = dict(report.metrics or {}), report_source(report)
        else:
            metrics = data.get("metrics")
    else:
        reason, actor = f"rule {job.rule}", data.get("actor") or data.get("registered_by") or RULE_ACTOR
        metrics = data.get("metrics")
        source = {"source": "event", "type": job.event.get("type"), "rule": job.rule}
    evidence = check_metrics(metrics) if isinstance(metrics, dict) and metrics else None
    return _open(uow, workflow, model_row, version_row, env, actor=actor, reason=reason, evidence=evidence,
                 evidence_source=source if evidence is not None else None)


ACTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "request_approval": request_approval,
    "request_promotion": request_promotion,
}


# --- email --------------------------------------------------------------------------------


def recipients(*, uow: UnitOfWork, spec: list[str], event: dict[str, Any]) -> list[str]:
    """Addresses for `spec` (addresses, registrant, requester, actor, approvers, user:X, group:X)."""
    data = event.get("data") or {}
    names: list[str] = []
    groups: list[str] = []
    addresses: list[str] = []
    for item in spec:
        if item.startswith("user:"):
            names.append(item[5:])
        elif item.startswith("group:"):
            groups.append(item[6:])
        elif "@" in item:
            addresses.append(item)
        elif item in ("registrant", "requester", "actor"):
            key = {"registrant": "registered_by", "requester": "requested_by", "actor": "actor"}[item]
            if isinstance(data.get(key), str):
                names.append(data[key])
        elif item == "approvers":
            groups.extend(g for g in data.get("approvers") or [] if isinstance(g, str))
        else:
            raise InvalidInput(f"unknown recipient {item!r}", details={"field": "to"})
    with uow:
        for name in names:
            user = uow.users.find(name)
            if user is not None and user.email and not user.disabled:
                addresses.append(user.email)
        if groups:
            addresses.extend(u.email for u in uow.users.members_of(groups) if u.email)
    return list(dict.fromkeys(addresses))


class EmailRunner:
    """The `email` target: resolve recipients, render plain text, hand it to the Mailer."""

    def __init__(self, *, uow_factory: Callable[[], UnitOfWork], mailer: Mailer, public_url: str,
                 sender: str, composer: Any = None) -> None:
        self.uow_factory, self.mailer, self.public_url, self.sender = uow_factory, mailer, public_url, sender
        # A services.emails.MailComposer renders the templated multipart mails (one per
        # approver, each with its own review link); without one, the plain-text rendering is sent.
        self.composer = composer

    def __call__(self, job: Job, timeout: float | None) -> Outcome:
        try:
            to = recipients(uow=self.uow_factory(), spec=list(job.target.to), event=job.event)
        except SignoffError as exc:
            return Outcome.final(exc.message)
        if not to:
            return Outcome.ok(recipients=[], skipped="no recipient with an email address")
        if self.composer is not None:
            try:
                messages, skipped = self.composer.compose(event=job.event, key=job.key, to=to, rule=job.rule,
                                                          subject=job.target.subject)
            except SignoffError as exc:
                return Outcome.final(exc.message)
            if not messages:
                return Outcome.ok(recipients=[], skipped=skipped)
        else:
            rendered = render(job.event, self.public_url, job.target.subject)
            messages = [MailMessage(to=to, subject=rendered.subject, text=rendered.text,
                                    message_id=message_id(job.key, self.sender),
                                    headers={"Signoff-Idempotency-Key": job.key})]
        try:
            for message in messages:
                self.mailer.send(message, timeout=timeout)
        except DeliveryFailed as exc:
            code = exc.details.get("status_code")
            if exc.details.get("retry", True):
                return Outcome.retry(exc.message, code)
            return Outcome.final(exc.message, code)
        sent = [a for m in messages for a in m.to]
        return Outcome.ok(recipients=sent, message_id=messages[0].message_id)
