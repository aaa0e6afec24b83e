"""What services read and write of stored rows: attribute-shaped Protocols.

The ORM rows of adapters/db/tables.py satisfy these structurally, so a service types what it
holds without importing the storage layer; repositories (services/ports.py) hand them out.
Only the columns are here, never the ORM's machinery (sessions, relationships, queries).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class ModelRecord(Protocol):
    id: int
    name: str
    description: str
    owner_group: str | None
    tags: dict[str, Any]
    latest_version: int
    created_at: datetime
    created_by: str


class VersionRecord(Protocol):
    id: int
    model_id: int
    number: int
    artifact_uri: str
    digest: str | None
    flavor: str | None
    meta: dict[str, Any]
    metrics: dict[str, Any]
    run_id: str | None
    code_commit: str | None
    dataset_hash: str | None
    registered_by: str
    registered_at: datetime


class LiveRecord(Protocol):
    model_name: str
    env: str
    model_id: int
    version_id: int
    number: int
    artifact_uri: str
    digest: str | None
    flavor: str | None
    approved_by: list[Any]
    approved_envs: list[Any]
    approved_at: datetime
    request_id: int | None
    parameter_version: int
    since: datetime


class PromotionRecord(Protocol):
    id: int
    model_id: int
    env: str
    version_id: int | None
    previous_version_id: int | None
    kind: str
    actor: str
    reason: str
    request_id: int | None
    at: datetime


class RequestRecord(Protocol):
    id: int
    model_id: int
    version_id: int
    env: str
    kind: str
    state: str
    requested_by: str
    reason: str
    evidence: dict[str, Any]
    gate_results: list[Any]
    policy: dict[str, Any]
    digest: str | None
    created_at: datetime
    expires_at: datetime | None
    decided_at: datetime | None
    reminded_at: datetime | None
    evidence_source: dict[str, Any] | None
    auto_blocked: dict[str, Any] | None


class InferenceReportRecord(Protocol):
    id: int
    version_id: int
    env: str
    metrics: dict[str, Any]
    rows: int
    profile: dict[str, Any]
    started_at: datetime | None
    finished_at: datetime | None
    reported_by: str
    reported_at: datetime


class UserRecord(Protocol):
    id: int
    name: str
    email: str | None
    display_name: str | None
    password_hash: str | None
    is_admin: bool
    disabled: bool
    source: str
    created_at: datetime
    disabled_reason: str | None
    deleted_at: datetime | None


class GroupRecord(Protocol):
    id: int
    name: str


class CredentialRecord(Protocol):
    """What an API token and an AWS access key both are: a named, scoped secret of one user,
    with a lifetime."""

    id: int
    user_id: int
    name: str
    scopes: list[Any]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenRecord(CredentialRecord, Protocol):
    token_hash: str
    prefix: str


class RuleRecord(Protocol):
    id: int
    name: str
    description: str
    enabled: bool
    pattern: dict[str, Any]
    targets: list[Any]
    target_secrets: list[Any] | None
    source: str
    revision: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class DeliveryRecord(Protocol):
    id: int
    idempotency_key: str
    event_seq: int
    event_id: str
    event_type: str
    event_time: datetime
    rule_name: str
    target_index: int
    target_type: str
    target: dict[str, Any]
    target_secrets: dict[str, Any] | None
    state: str
    attempts: int
    replays: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class DeliveryAttemptRecord(Protocol):
    id: int
    delivery_id: int
    number: int
    worker: str
    started_at: datetime
    duration_ms: float
    outcome: str
    status_code: int | None
    error: str | None


class WebSessionRecord(Protocol):
    id: int
    session_hash: str
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    user_agent: str


class AwsKeyRecord(CredentialRecord, Protocol):
    access_key_id: str
    secret_encrypted: str
