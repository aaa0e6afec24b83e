"""How stored records are shown: the plain dicts the API, pages and SDK return.

Secrets never appear here: rule and delivery targets are stored in their public form, and
redacted again in case a row was written another way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signoff.domain.deliveries import DeliveryState
from signoff.domain.models import LiveVersion
from signoff.domain.people import account_state
from signoff.domain.rules import public_target
from signoff.services.records import (
    AwsKeyRecord,
    CredentialRecord,
    DeliveryAttemptRecord,
    DeliveryRecord,
    InferenceReportRecord,
    LiveRecord,
    RuleRecord,
    TokenRecord,
    UserRecord,
)

PENDING = DeliveryState.PENDING.value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def redacted(target: dict[str, Any]) -> dict[str, Any]:
    """Stored targets are public already; redacting again guards rows written another way."""
    return public_target(target)


def live_from_record(row: LiveRecord) -> LiveVersion:
    return LiveVersion(
        model=row.model_name,
        env=row.env,
        version=row.number,
        artifact_uri=row.artifact_uri,
        digest=row.digest,
        flavor=row.flavor,
        approved_by=list(row.approved_by or []),
        approved_at=row.approved_at,
        approved_envs=list(row.approved_envs or []),
        request_id=row.request_id,
        parameter_version=row.parameter_version,
    )


def report_to_dict(row: InferenceReportRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "env": row.env,
        "metrics": row.metrics,
        "rows": row.rows,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "reported_by": row.reported_by,
        "reported_at": row.reported_at.isoformat(),
    }


def user_to_dict(row: UserRecord, groups: set[str]) -> dict[str, object]:
    return {
        "name": row.name,
        "email": row.email,
        "display_name": row.display_name,
        "groups": sorted(groups),
        "admin": row.is_admin,
        "disabled": row.disabled,
        "state": account_state(disabled=bool(row.disabled), deleted=row.deleted_at is not None),
        "disabled_reason": row.disabled_reason if row.disabled else None,
        "source": row.source,
        "created_at": row.created_at.isoformat() if isinstance(row.created_at, datetime) else None,
        "deleted_at": row.deleted_at.isoformat() if isinstance(row.deleted_at, datetime) else None,
    }


def _lifetime(row: CredentialRecord) -> dict[str, Any]:
    """The fields a token and an AWS key share, in the order both show them."""
    return {
        "scopes": list(row.scopes or []),
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }


def token_to_dict(row: TokenRecord, user: str) -> dict[str, Any]:
    return {"id": row.id, "user": user, "name": row.name, "prefix": row.prefix, **_lifetime(row)}


def aws_key_to_dict(row: AwsKeyRecord, user: str) -> dict[str, Any]:
    return {"id": row.id, "access_key_id": row.access_key_id, "user": user, "name": row.name, **_lifetime(row)}


def rule_to_dict(row: RuleRecord) -> dict[str, Any]:
    targets = [redacted(dict(t)) for t in (row.targets or [])]
    return {
        "name": row.name,
        "description": row.description,
        "enabled": row.enabled,
        "pattern": row.pattern,
        "targets": targets,
        "source": row.source,
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "updated_at": _iso(row.updated_at),
        "updated_by": row.updated_by,
    }


def delivery_to_dict(row: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": row.id,
        "idempotency_key": row.idempotency_key,
        "event_seq": row.event_seq,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "event_time": _iso(row.event_time),
        "rule": row.rule_name,
        "target_index": row.target_index,
        "target_type": row.target_type,
        "target": redacted(dict(row.target or {})),
        "state": row.state,
        "attempts": row.attempts,
        "replays": row.replays,
        "next_attempt_at": _iso(row.next_attempt_at) if row.state == PENDING else None,
        "lease_owner": row.lease_owner,
        "lease_expires_at": _iso(row.lease_expires_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "result": row.result,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "finished_at": _iso(row.finished_at),
    }


def attempt_to_dict(row: DeliveryAttemptRecord) -> dict[str, Any]:
    return {
        "number": row.number,
        "worker": row.worker,
        "started_at": _iso(row.started_at),
        "duration_ms": round(row.duration_ms, 3),
        "outcome": row.outcome,
        "status_code": row.status_code,
        "error": row.error,
    }
