"""Emails about requests: what the `email` target sends for each kind of event.

An approval or promotion request (and its reminders) goes to each approver separately, because
each message carries a review link signed for that one recipient. Notices (decision, expiry)
go to everyone named at once. Every message's Message-ID derives from the delivery's
idempotency key, so a retried or replayed delivery is recognisable as the same mail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from signoff.domain import events
from signoff.domain.notifications import render as render_plain
from signoff.services import approvals, drift_view
from signoff.services.evidence import metric_rows, source_label
from signoff.services.ports import Clock, MailMessage, MailRenderer, ReviewLinkSigner, UnitOfWork

# Event types whose mail asks someone to decide, and so carries a personal review link.
REQUEST_TYPES = frozenset({events.APPROVAL_REQUESTED, events.APPROVAL_REMINDER})


def message_id(key: str, sender: str, recipient: str | None = None) -> str:
    """`<sha256(key)[:32][.sha256(recipient)[:8]]@sender-domain>`: stable across retries of one delivery."""
    domain = sender.rpartition("@")[2].strip(" >") or "signoff.invalid"
    local = hashlib.sha256(key.encode()).hexdigest()[:32]
    if recipient:
        local += "." + hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:8]
    return f"<{local}@{domain}>"


class MailComposer:
    """Turns one delivery (event + recipients) into the messages to send."""

    def __init__(self, *, uow_factory: Callable[[], UnitOfWork], workflow: Any, clock: Clock, links: ReviewLinkSigner,
                 public_url: str, sender: str, templates: MailRenderer) -> None:
        self.uow_factory, self.workflow, self.clock, self.links = uow_factory, workflow, clock, links
        self.public_url, self.sender = public_url.rstrip("/"), sender
        self.templates = templates

    def compose(self, *, event: dict[str, Any], key: str, to: list[str], rule: str,
                subject: str | None = None) -> tuple[list[MailMessage], str | None]:
        """The messages for `to`, or ([], why) when there is nothing to send any more."""
        etype = str(event.get("type"))
        raw = event.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        headers = {"Signoff-Idempotency-Key": key, "Signoff-Event": etype}
        if etype in REQUEST_TYPES and isinstance(data.get("request_id"), int):
            return self._request_mails(event, data, key, to, subject, headers)
        if etype == events.APPROVAL_DECIDED and isinstance(data.get("request_id"), int):
            name, ctx = "decision", self._decision_context(data)
        elif etype == events.APPROVAL_EXPIRED:
            name, ctx = "expired", dict(data)
        else:
            plain = render_plain(event, self.public_url, subject)
            lines = plain.text.split("\n\nOpen it in signoff:")[0].split("\n")
            name, ctx = "generic", {"headline": plain.subject.removeprefix("[signoff] "), "lines": lines,
                                    "link": plain.link, "text": plain.text}
            subject = subject or plain.subject
        ctx.update(self._common(data, self._why(data, to, rule, etype), subject))
        text, html = self.templates.render(name, ctx)
        message = MailMessage(to=to, subject=subject or self._subject(name, data), text=text, html=html,
                              message_id=message_id(key, self.sender), headers=headers)
        return [message], None

    # -- requests: one message per approver, each with its own link -------------------------

    def _request_mails(self, event: dict[str, Any], data: dict[str, Any], key: str, to: list[str],
                       subject: str | None, headers: dict[str, str]) -> tuple[list[MailMessage], str | None]:
        request_id: int = data["request_id"]  # an int: compose checked it
        uow = self.uow_factory()
        try:
            request = approvals.get_request(uow=uow, workflow=self.workflow, request_id=request_id)
        except Exception as exc:  # noqa: BLE001 - a vanished request is nothing to mail about
            return [], f"request {data['request_id']} cannot be read: {exc}"
        if request.state.value != "open":
            return [], f"request {request.id} is {request.state.value}; nobody needs to decide"
        uow = self.uow_factory()
        with uow:
            model_row = uow.models.row(request.model)
            version_row = uow.versions.row(model_row, request.version)
            registrant = uow.users.find(version_row.registered_by)
            registrant_email = registrant.email if registrant is not None else None
            lineage = {"run_id": version_row.run_id, "code_commit": version_row.code_commit,
                       "dataset_hash": version_row.dataset_hash, "digest": version_row.digest,
                       "mlflow": mlflow_links((version_row.meta or {}).get("mlflow"))}
            registered_at, registered_by = version_row.registered_at, version_row.registered_by
            # Whoever decided already has nothing left to do (a reminder of a half-approved prod request).
            skip = {u.email.strip().lower() for d in request.decisions
                    if (u := uow.users.find(d.actor)) is not None and u.email}
        if registrant_email and not request.policy.registrant_may_approve:
            # The registrant may not approve their own version: asking them would only confuse.
            skip.add(registrant_email.strip().lower())
        to = [a for a in to if a.strip().lower() not in skip]
        if not to:
            return [], "no approver left to ask (the registrant may not approve; the others decided)"
        reminder = event.get("type") == events.APPROVAL_REMINDER
        name = "promotion_request" if request.kind == "promotion" else "approval_request"
        live_version = data.get("live_version")
        live_metrics = data.get("live_metrics") if live_version else None
        base = {
            "request_id": request.id, "model": request.model, "version": request.version, "env": request.env,
            "kind": request.kind, "requested_by": request.requested_by, "registered_by": registered_by,
            "registered_at": registered_at, "approvers": list(request.policy.approvers), "needs": request.missing(),
            "metrics": metric_rows(request.evidence, live_metrics), "live_version": live_version,
            "gate_results": request.gate_results, "lineage_info": lineage, "reminder": reminder,
            "previous_env": self.workflow.previous(request.env), "created_at": request.created_at,
            "expires_at": request.expires_at, "digest": request.digest,
            "digest_required": request.policy.require_digest, "auto_blocked": request.auto_blocked,
            "evidence_label": source_label(request.evidence_source),
            "live_label": source_label(data.get("live_metrics_source")) if live_version else None,
            # What the batch behind the evidence looked like against the training data.
            "drift": drift_view.request_drift(uow=self.uow_factory(), workflow=self.workflow, request={
                "model": request.model, "version": request.version, "evidence_source": request.evidence_source}),
        }
        expires = self.links.expiry(request.expires_at, self.clock.now())
        text_subject = subject or self._subject(name, base, reminder=reminder)
        why = f"you are an approver for {request.env} ({', '.join(request.policy.approvers)})"
        out = []
        for address in to:
            ctx = {**base, **self._common(data, why, text_subject), "recipient": address,
                   "review_url": self.links.url(request_id, address, expires), "link_expires_at": expires}
            text, html = self.templates.render(name, ctx)
            out.append(MailMessage(to=[address], subject=text_subject, text=text, html=html,
                                   message_id=message_id(key, self.sender, address), headers=headers))
        return out, None

    # -- notices -------------------------------------------------------------------------

    def _decision_context(self, data: dict[str, Any]) -> dict[str, Any]:
        ctx = dict(data)
        ctx.setdefault("comment", "")
        ctx.setdefault("missing", "")
        # The evidence frozen with this decision, as the decider saw it; never recomputed here.
        snapshot = data.get("evidence_snapshot") if isinstance(data.get("evidence_snapshot"), dict) else None
        ctx["snapshot"] = snapshot
        if snapshot is not None:
            live = snapshot.get("live") or None
            ctx["compared_live"] = bool(live and not live.get("is_candidate"))
            ctx.update(digest=snapshot.get("digest"), digest_required=snapshot.get("digest_required"),
                       auto_blocked=None,
                       evidence_label=source_label((snapshot.get("candidate") or {}).get("metrics_source")),
                       live_label=source_label(live.get("metrics_source")) if live and ctx["compared_live"] else None)
        try:
            request = approvals.get_request(uow=self.uow_factory(), workflow=self.workflow,
                                            request_id=data["request_id"])
            ctx["approvers_so_far"] = request.approvers
        except Exception:  # noqa: BLE001 - the notice reads fine without the list
            ctx["approvers_so_far"] = []
        from signoff.services import esign

        # Electronic signatures show name, time and meaning wherever the decision is shown (§11.50).
        found = esign.signatures_for(uow=self.uow_factory(), request_ids=[data["request_id"]])
        ctx["signatures"] = [esign.manifestation(s) for s in found.get(data["request_id"], [])]
        return ctx

    def _why(self, data: dict[str, Any], to: list[str], rule: str, etype: str) -> str:
        registrant = data.get("registered_by")
        if isinstance(registrant, str):
            with self.uow_factory() as uow:
                user = uow.users.find(registrant)
                email = user.email if user is not None else None
            if email and [a.strip().lower() for a in to] == [email.strip().lower()]:
                return "you registered this version"
        return f"a rule ({rule}) sends {etype} events to you"

    def _common(self, data: dict[str, Any], reason: str, subject: str | None) -> dict[str, Any]:
        model, version, rid = data.get("model"), data.get("version"), data.get("request_id")
        return {
            "reason": reason, "subject": subject or "",
            "version_url": f"{self.public_url}/models/{model}/versions/{version}" if model and version else self.public_url,
            "request_url": f"{self.public_url}/requests/{rid}" if rid else self.public_url,
        }

    @staticmethod
    def _subject(name: str, data: dict[str, Any], *, reminder: bool = False) -> str:
        m, v, env = data.get("model"), data.get("version"), data.get("env")
        prefix = "[signoff] Reminder: " if reminder else "[signoff] "
        if name == "approval_request":
            return f"{prefix}approval needed for {m} v{v} in {env}"
        if name == "promotion_request":
            return f"{prefix}promote {m} v{v} to {env}? Approval needed"
        if name == "decision":
            if data.get("decision") == "reject":
                return f"[signoff] Rejected: {m} v{v} in {env}"
            if data.get("state") == "approved":
                return f"[signoff] Approved: {m} v{v} is live in {env}"
            return f"[signoff] {data.get('actor')} approved {m} v{v} in {env}; more approvals needed"
        if name == "expired":
            return f"[signoff] Request expired: {m} v{v} in {env}"
        return f"[signoff] {m} v{v}"


def mlflow_links(meta: Any) -> dict[str, str] | None:
    """The MLflow UI links the bridge recorded for a version (http(s) only: metadata is registrant input)."""
    if not isinstance(meta, dict):
        return None
    links = {k: meta[k] for k in ("run_url", "model_version_url")
             if isinstance(meta.get(k), str) and meta[k].startswith(("http://", "https://"))}
    return links or None
