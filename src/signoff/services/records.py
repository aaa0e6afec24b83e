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


class StageRecord(Protocol):
    id: int
    version_id: int
    env: str
    status: str
    updated_at: datetime
    updated_by: str


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


class DecisionRecord(Protocol):
    id: int
    request_id: int
    actor: str
    verdict: str
    comment: str
    groups: list[Any]
    digest: str | None
    at: datetime
    evidence: dict[str, Any] | None


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


class ParameterRecord(Protocol):
    id: int
    name: str
    version: int
    value: dict[str, Any]
    created_at: datetime
    created_by: str


class AuditRecord(Protocol):
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    model: str | None
    before: Any
    after: Any
    prev_hash: str
    hash: str


class OutboxRecord(Protocol):
    id: int
    event_id: str
    type: str
    subject: str
    time: datetime
    payload: dict[str, Any]
    dispatched_at: datetime | None


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


class SigninCounterRecord(Protocol):
    key: str
    count: int
    expires_at: float


class MembershipRecord(Protocol):
    user_id: int
    group_id: int


class TokenRecord(Protocol):
    id: int
    token_hash: str
    prefix: str
    user_id: int
    name: str
    scopes: list[Any]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ArtifactMismatchRecord(Protocol):
    version_id: int
    digest: str
    first_at: datetime
    first_by: str
    last_at: datetime
    reports: int


class ReferenceProfileRecord(Protocol):
    version_id: int
    profile: dict[str, Any]
    source: str
    created_at: datetime
    created_by: str


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


class AwsKeyRecord(Protocol):
    id: int
    access_key_id: str
    secret_encrypted: str
    user_id: int
    name: str
    scopes: list[Any]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class AttestationRecord(Protocol):
    id: int
    model_id: int
    version_id: int
    env: str
    kind: str
    digest: str
    request_id: int | None
    parameter_version: int
    keyid: str
    payload_sha256: str
    envelope: dict[str, Any]
    created_at: datetime


class AuditCheckpointRecord(Protocol):
    id: int
    at: datetime
    count: int
    head_id: int | None
    head_hash: str
    keyid: str
    envelope: dict[str, Any]


class AuditVerificationRecord(Protocol):
    id: int
    at: datetime
    ok: bool
    checked: int
    problems: list[Any]
    by: str


class SignatureRecord(Protocol):
    id: int
    request_id: int
    user_name: str
    meaning: str
    signed_at: datetime
    record: dict[str, Any]
    envelope: dict[str, Any]


class SigningFailureRecord(Protocol):
    id: int
    user_name: str
    at: datetime
    method: str
