"""Domain events and their CloudEvents 1.0 envelope.

Services record events as they change state; the unit of work writes them to the outbox in
the same transaction, so an event exists exactly when its change does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SOURCE = "signoff"

REGISTERED = "signoff.version.registered"
APPROVAL_REQUESTED = "signoff.approval.requested"
APPROVAL_DECIDED = "signoff.approval.decided"
APPROVAL_EXPIRED = "signoff.approval.expired"
APPROVAL_REMINDER = "signoff.approval.reminder"  # still open after the policy's remind_every
VERSION_APPROVED = "signoff.version.approved"
VERSION_REJECTED = "signoff.version.rejected"
VERSION_REVOKED = "signoff.version.revoked"
METADATA_UPDATED = "signoff.version.metadata_updated"
INFERENCE_COMPLETED = "signoff.inference.completed"
DRIFT_DETECTED = "signoff.drift.detected"
ROLLED_BACK = "signoff.environment.rolled_back"
BREAK_GLASS = "signoff.promotion.break_glass"
ARTIFACT_MISMATCH = "signoff.artifact.digest_mismatch"


@dataclass
class Event:
    type: str
    subject: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def envelope(self, time: datetime) -> dict[str, Any]:
        """The CloudEvents 1.0 JSON form that rules are matched against and webhooks receive."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": SOURCE,
            "type": self.type,
            "subject": self.subject,
            "time": time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }


def canonical_json(value: Any) -> str:
    """Deterministic JSON: the audit hash chain depends on byte-identical serialisation."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# --- Payload builders -----------------------------------------------------------------------
# The CloudEvent `data` of each type is a public contract (rules match on it, webhooks and
# mail templates read it): every payload is built here, one function per type, so a field is
# added or renamed in one place. Keys keep their published order.


def version_subject(model: str, version: int) -> str:
    return f"models/{model}/versions/{version}"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def registered(*, model: str, version: int, artifact_uri: str, digest: str | None, flavor: str | None,
               metrics: dict[str, float], registered_by: str, owner_group: str | None, first_env: str) -> Event:
    return Event(REGISTERED, version_subject(model, version), {
        "model": model, "version": version, "artifact_uri": artifact_uri, "digest": digest, "flavor": flavor,
        "metrics": metrics, "registered_by": registered_by, "owner_group": owner_group, "first_env": first_env,
    })


def approval_requested(
    *, subject: str, request_id: int | None, model: str, version: int, env: str, kind: str, reason: str,
    requested_by: str, registered_by: str, approvers: list[str], evidence: dict[str, float],
    evidence_source: dict[str, Any], live_version: int | None, live_metrics: dict[str, float] | None,
    live_metrics_source: Any, gate_results: list[dict[str, Any]], digest: str | None,
    auto_approve_blocked: dict[str, Any] | None, expires_at: datetime | None,
) -> Event:
    return Event(APPROVAL_REQUESTED, subject, {
        "request_id": request_id, "model": model, "version": version, "env": env, "kind": kind, "reason": reason,
        "requested_by": requested_by, "registered_by": registered_by, "approvers": approvers,
        "evidence": evidence, "evidence_source": evidence_source, "live_version": live_version,
        "live_metrics": live_metrics, "live_metrics_source": live_metrics_source, "gate_results": gate_results,
        "gates_passed": all(g["passed"] for g in gate_results), "digest": digest,
        "auto_approve_blocked": auto_approve_blocked, "expires_at": _iso(expires_at),
    })


def approval_decided(
    *, subject: str, request_id: int, model: str, version: int, env: str, decision: str, actor: str, comment: str,
    state: str, registered_by: str, missing: Any, evidence_snapshot: dict[str, Any] | None,
) -> Event:
    return Event(APPROVAL_DECIDED, subject, {
        "request_id": request_id, "model": model, "version": version, "env": env, "decision": decision,
        "actor": actor, "comment": comment, "state": state, "registered_by": registered_by, "missing": missing,
        "evidence_snapshot": evidence_snapshot,
    })


def version_rejected(*, subject: str, request_id: int, model: str, version: int, env: str, rejected_by: str,
                     comment: str, registered_by: str) -> Event:
    return Event(VERSION_REJECTED, subject, {
        "request_id": request_id, "model": model, "version": version, "env": env, "rejected_by": rejected_by,
        "comment": comment, "registered_by": registered_by,
    })


def version_approved(
    *, model: str, version: int, env: str, approved_by: list[str], artifact_uri: str, digest: str | None,
    parameter: str, parameter_version: int, request_id: int | None, previous_version: int | None,
    next_env: str | None, registered_by: str, change: str,
) -> Event:
    return Event(VERSION_APPROVED, version_subject(model, version), {
        "model": model, "version": version, "env": env, "approved_by": approved_by, "artifact_uri": artifact_uri,
        "digest": digest, "parameter": parameter, "parameter_version": parameter_version,
        "request_id": request_id, "previous_version": previous_version, "next_env": next_env,
        "registered_by": registered_by, "change": change,
    })


def request_status(type: str, request: dict[str, Any]) -> Event:
    """APPROVAL_EXPIRED or APPROVAL_REMINDER: the open request as the sweep found it."""
    return Event(type, version_subject(request["model"], request["version"]), request)


def request_state(
    *, request_id: int, model: str, version: int, env: str, kind: str, requested_by: str, registered_by: str,
    approvers: list[str], evidence: dict[str, Any], live_version: int | None, live_metrics: dict[str, float] | None,
    gate_results: list[Any], missing: Any, created_at: datetime, expires_at: datetime | None,
) -> dict[str, Any]:
    """The payload of APPROVAL_EXPIRED and APPROVAL_REMINDER."""
    return {
        "request_id": request_id, "model": model, "version": version, "env": env, "kind": kind,
        "requested_by": requested_by, "registered_by": registered_by, "approvers": approvers,
        "evidence": evidence, "live_version": live_version, "live_metrics": live_metrics,
        "gate_results": gate_results, "missing": missing, "created_at": created_at.isoformat(),
        "expires_at": _iso(expires_at),
    }


def metadata_updated(*, model: str, version: int, actor: str, metadata: dict[str, Any], registered_by: str) -> Event:
    return Event(METADATA_UPDATED, version_subject(model, version), {
        "model": model, "version": version, "actor": actor, "metadata": metadata, "registered_by": registered_by,
    })


def inference_completed(*, subject: str, report: dict[str, Any], reported_by: str) -> Event:
    return Event(INFERENCE_COMPLETED, subject, {**report, "reported_by": reported_by})


def drift_detected(
    *, model: str, version: int, env: str, report_id: int | None, drifted_features: list[str],
    features: dict[str, Any], psi_threshold: float, ks_pvalue: float, owner_group: str | None, registered_by: str,
) -> Event:
    return Event(DRIFT_DETECTED, version_subject(model, version), {
        "model": model, "version": version, "env": env, "report_id": report_id,
        "drifted_features": drifted_features, "features": features, "psi_threshold": psi_threshold,
        "ks_pvalue": ks_pvalue, "owner_group": owner_group, "registered_by": registered_by,
    })


def rolled_back(*, subject: str, model: str, version: int, actor: str, owner_group: str | None,
                approvers: list[str], change: dict[str, Any]) -> Event:
    """`change`: env, from_version, to_version, reason, parameter, parameter_version."""
    return Event(ROLLED_BACK, subject, {
        "model": model, "version": version, "actor": actor, "owner_group": owner_group, "approvers": approvers,
        **change,
    })


def version_revoked(*, model: str, version: int, revoked_by: str, owner_group: str | None, registered_by: str,
                    approvers: list[str], revoked_in: str, result: dict[str, Any]) -> Event:
    """`result`: what was revoked in one environment (env, status, live changes, cancelled requests)."""
    return Event(VERSION_REVOKED, version_subject(model, version), {
        "model": model, "version": version, "revoked_by": revoked_by, "owner_group": owner_group,
        "registered_by": registered_by, "approvers": approvers, "revoked_in": revoked_in, **result,
    })


def break_glass(*, model: str, version: int, actor: str, owner_group: str | None, registered_by: str,
                approvers: list[str], details: dict[str, Any]) -> Event:
    """`details`: env, justification, skipped environments, gates, groups, cancelled requests."""
    return Event(BREAK_GLASS, version_subject(model, version), {
        "model": model, "version": version, "actor": actor, "owner_group": owner_group,
        "registered_by": registered_by, "approvers": approvers, **details,
    })


def artifact_mismatch(*, model: str, version: int, env: str | None, artifact_uri: str, expected_digest: str | None,
                      digest: str | None, loaded_by: str) -> Event:
    return Event(ARTIFACT_MISMATCH, version_subject(model, version), {
        "model": model, "version": version, "env": env, "artifact_uri": artifact_uri,
        "expected_digest": expected_digest, "digest": digest, "loaded_by": loaded_by,
    })
