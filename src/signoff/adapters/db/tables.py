"""ORM rows. Kept apart from domain entities; repositories convert between the two."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite has no BIGINT autoincrement; Postgres wants BIGINT for event and audit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to UTCDateTime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}
    # Every row class here is mapped to a plain Table (DeclarativeBase declares the wider FromClause),
    # which Core's insert/update/delete take.
    __table__: ClassVar[Table]


class ModelRow(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_group: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    latest_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class VersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "number", name="uq_version_number"),
                      Index("ix_versions_registrant", "registered_by", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    number: Mapped[int]
    artifact_uri: Mapped[str] = mapped_column(Text)
    digest: Mapped[str | None] = mapped_column(String(80))
    flavor: Mapped[str | None] = mapped_column(String(32))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_id: Mapped[str | None] = mapped_column(String(256))
    code_commit: Mapped[str | None] = mapped_column(String(256))
    dataset_hash: Mapped[str | None] = mapped_column(String(256))
    registered_by: Mapped[str] = mapped_column(String(128))
    registered_at: Mapped[datetime]


class StageRow(Base):
    """Status of a version in an environment; one row per (version, env)."""

    __tablename__ = "version_stages"
    __table_args__ = (UniqueConstraint("version_id", "env", name="uq_stage"),
                      Index("ix_stages_env_status", "env", "status", "version_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    env: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128))


class LiveRow(Base):
    """Which version is live per (model, env). Denormalised so resolve is one keyed read."""

    __tablename__ = "live_versions"
    model_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    env: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    number: Mapped[int]
    artifact_uri: Mapped[str] = mapped_column(Text)
    digest: Mapped[str | None] = mapped_column(String(80))
    flavor: Mapped[str | None] = mapped_column(String(32))
    approved_by: Mapped[list[Any]] = mapped_column(default=list)
    approved_envs: Mapped[list[Any]] = mapped_column(default=list)
    approved_at: Mapped[datetime]
    request_id: Mapped[int | None]
    parameter_version: Mapped[int]
    since: Mapped[datetime]


class PromotionRow(Base):
    """History of the live pointer: every move is a new row, never an update."""

    __tablename__ = "promotions"
    __table_args__ = (Index("ix_promotions_model_env", "model_id", "env"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    env: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[int | None]
    at: Mapped[datetime]


class RequestRow(Base):
    __tablename__ = "approval_requests"
    __table_args__ = (
        Index("ix_requests_state_env", "state", "env"),
        Index("ix_requests_decided", "decided_at"),
        Index(
            "uq_open_request",
            "version_id",
            "env",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    env: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    gate_results: Mapped[list[Any]] = mapped_column(default=list)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    digest: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    evidence_source: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    auto_blocked: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DecisionRow(Base):
    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("request_id", "actor", name="uq_decision_actor"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"))
    actor: Mapped[str] = mapped_column(String(128))
    verdict: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    groups: Mapped[list[Any]] = mapped_column(default=list)
    digest: Mapped[str | None] = mapped_column(String(80))
    at: Mapped[datetime]
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class InferenceReportRow(Base):
    __tablename__ = "inference_reports"
    __table_args__ = (Index("ix_reports_version_env", "version_id", "env"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    env: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rows: Mapped[int] = mapped_column(default=0)
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    reported_by: Mapped[str] = mapped_column(String(128))
    reported_at: Mapped[datetime]


class ParameterRow(Base):
    __tablename__ = "parameters"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_parameter_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    version: Mapped[int]
    value: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_model", "model"), Index("ix_audit_actor", "actor", "id"),
                      Index("ix_audit_action", "action", "id"), Index("ix_audit_at", "at"),
                      Index("ix_audit_id", "id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(512))
    model: Mapped[str | None] = mapped_column(String(128))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class OutboxRow(Base):
    """CloudEvents written in the transaction of the change; the worker dispatches them."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "dispatched_at", "id"), Index("ix_outbox_type", "type"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(512))
    time: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    dispatched_at: Mapped[datetime | None]


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    email: Mapped[str | None] = mapped_column(String(256))
    display_name: Mapped[str | None] = mapped_column(String(256))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(32), default="local")
    created_at: Mapped[datetime]
    # Why the account is disabled: an administrator's note, or REMOVED_FROM_CONFIG (which a
    # later start-up may undo when the user is declared again; an administrator's never is).
    disabled_reason: Mapped[str | None] = mapped_column(String(256), default=None)
    # A deleted user keeps its row, so the name stays taken: names are never reused.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class GroupRow(Base):
    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)


class SigninCounterRow(Base):
    """Failed sign-ins per account and per client address in the current window (the throttle).

    In the database, not in process memory, so the limit holds across every server process;
    `expires_at` is Unix time (what the `limits` library's storages count in).
    """

    __tablename__ = "signin_counters"
    __table_args__ = (Index("ix_signin_counters_expires", "expires_at"),)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    count: Mapped[int]
    expires_at: Mapped[float] = mapped_column(Float)


class MembershipRow(Base):
    __tablename__ = "memberships"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)


# --- API tokens (HTTP API and accounts) -----------------------------------------------------


class TokenRow(Base):
    """An API token for a pipeline or a person: only its SHA-256 is stored, never the token."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(128), default="")
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


# --- Reference profiles (inference loop, drift) -------------------------------------------


class ArtifactMismatchRow(Base):
    """One observed wrong digest of a version: the first report is audited and announced, repeats
    only counted, so a client (or an attacker with a resolve token) cannot flood the audit log."""

    __tablename__ = "artifact_mismatches"
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(128), primary_key=True)  # "" when none could be computed
    first_at: Mapped[datetime]
    first_by: Mapped[str] = mapped_column(String(128))
    last_at: Mapped[datetime]
    reports: Mapped[int] = mapped_column(default=1)


class ReferenceProfileRow(Base):
    """The training-data profile of a version that inference batches are compared with (drift)."""

    __tablename__ = "reference_profiles"
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    profile: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


# --- Event bus (rules, deliveries and their attempts) -------------------------------------


class RuleRow(Base):
    """A rule: an EventBridge pattern and its targets (JSON, validated by domain.rules)."""

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pattern: Mapped[dict[str, Any]]
    targets: Mapped[list[Any]]  # as anyone may see them: secrets redacted (domain.rules.split_target)
    # Index for index, what was taken out of `targets`; read only by the code that sends.
    target_secrets: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    source: Mapped[str] = mapped_column(String(16))  # default | config | api
    # Table-wide counter: (count, max(revision)) changes whenever any rule does (cache key).
    revision: Mapped[int]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128))


class DeliveryRow(Base):
    """One (event, rule, target): its state, lease and retry schedule."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_lease", "state", "lease_expires_at"),
        Index("ix_deliveries_event", "event_seq"),
        Index("ix_deliveries_state_type", "state", "target_type", "event_time"),  # /metrics, index-only
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    event_seq: Mapped[int] = mapped_column(BigId, ForeignKey("outbox.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(128))
    event_time: Mapped[datetime]
    rule_name: Mapped[str] = mapped_column(String(128))
    target_index: Mapped[int]
    target_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[dict[str, Any]]  # the public form, as in RuleRow.targets
    target_secrets: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    replays: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class DeliveryAttemptRow(Base):
    """Every attempt, kept: when, by which worker, how long, and how it ended."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_attempts_delivery", "delivery_id", "number"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("deliveries.id"))
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    duration_ms: Mapped[float]
    outcome: Mapped[str] = mapped_column(String(16))  # ok | retry | final | lost
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)


# --- Web sign-in sessions (human review) ---------------------------------------------------


class WebSessionRow(Base):
    """A signed-in browser: only the SHA-256 of its session id is stored, like API tokens."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "user_id"), Index("ix_web_sessions_expires", "expires_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(String(256), default="")


# --- AWS access keys (the SigV4 door: entrypoints/aws) ------------------------------------


class AwsKeyRow(Base):
    """An AWS-style access key pair acting as a signoff user.

    SigV4 is a MAC over the request keyed by the secret, so the server needs the secret itself
    to verify a signature: it is stored encrypted with a key derived from `[server] secret_key`,
    never in clear and never shown again after creation.
    """

    __tablename__ = "aws_access_keys"
    __table_args__ = (Index("ix_aws_access_keys_user", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    access_key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(128), default="")
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
class AttestationRow(Base):
    """A signed deployment attestation (DSSE envelope), written with the live move it attests."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestations_version_env", "version_id", "env"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    env: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(80))
    request_id: Mapped[int | None]
    parameter_version: Mapped[int]
    keyid: Mapped[str] = mapped_column(String(64))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class AuditCheckpointRow(Base):
    """A signed checkpoint of the audit chain's head; operators also keep copies elsewhere."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    count: Mapped[int] = mapped_column(BigInteger)
    head_id: Mapped[int | None] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    keyid: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[dict[str, Any]]


class AuditVerificationRow(Base):
    """The result of one full `audit verify` (chain, checkpoints, state against the chain)."""

    __tablename__ = "audit_verifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    checked: Mapped[int] = mapped_column(BigInteger)
    problems: Mapped[list[Any]] = mapped_column(default=list)
    by: Mapped[str] = mapped_column(String(128))


class SignatureRow(Base):
    """An electronic signature on a decision: the signed record and the server's DSSE envelope."""

    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("request_id", "user_name", name="uq_signature_signer"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"))
    user_name: Mapped[str] = mapped_column(String(128))
    meaning: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime]
    record: Mapped[dict[str, Any]]
    envelope: Mapped[dict[str, Any]]


class SigningFailureRow(Base):
    """A failed re-authentication at signing time; enough of them lock signing for a while."""

    __tablename__ = "signing_failures"
    __table_args__ = (Index("ix_signing_failures_user_at", "user_name", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(32))
