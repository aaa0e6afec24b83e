"""Request and response bodies, named by role (`VersionCreate`, `VersionPublic`).

Response timestamps are the services' ISO 8601 strings, passed through unchanged, so the
HTTP client returns byte-for-byte what the embedded client returns. Public models allow extra
keys: a field a service adds is never silently dropped from the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import SecretStr, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from signoff.domain import models

T = TypeVar("T")

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Name = Annotated[str, Field(min_length=1, max_length=128)]
# The domain's own rules (domain/models.py), stated in the schema so clients learn them up front.
MODEL_NAME = f"^{models.MODEL_NAME.pattern}$"
ModelName = Annotated[str, Field(pattern=MODEL_NAME)]
MetricName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")]
# Pydantic states key patterns as patternProperties; closing the object makes them binding.
Metrics = Annotated[dict[MetricName, float], Field(json_schema_extra={"additionalProperties": False})]
EnvName = Annotated[str, Field(min_length=1, max_length=64)]
ShortText = Annotated[str, Field(max_length=256)]
LongText = Annotated[str, Field(max_length=10_000)]
def _whole(value: object) -> object:
    # JSON has one number type: 3.0 is the integer 3 (JSON Schema agrees); 3.5 and "3" are not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


Count = Annotated[int, Field(ge=0, le=2**53), BeforeValidator(_whole)]


class _In(BaseModel):
    # Strict: "5" is not a number and 1 is not true; a body says what it means or is refused (422).
    model_config = ConfigDict(extra="forbid", strict=True)


def _text_only(value: object) -> object:
    if isinstance(value, (str, datetime)):
        return value
    raise ValueError("expected an RFC 3339 date-time string")


# Times in bodies: RFC 3339 strings with an offset (a bare number or a naive time is refused).
IsoTime = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_text_only)]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """Every error response: the `code` names the signoff.errors class (`forbidden`, `gate_failed`…)."""

    error: ErrorDetail


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next page (null: the last page)."""

    items: list[T]
    next_cursor: str | None = None


# --- models and versions ----------------------------------------------------------------


class ModelCreate(_In):
    name: ModelName
    description: LongText = ""
    owner_group: Name | None = None
    tags: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=dict)


class ModelPublic(_Out):
    name: str
    description: str
    owner_group: str | None
    tags: dict[str, str]
    created_at: Timestamp | None
    created_by: str | None
    latest_version: int


class VersionCreate(_In):
    artifact_uri: Annotated[str, Field(min_length=1, max_length=4096)]
    metrics: Metrics = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    run_id: ShortText | None = None
    code_commit: ShortText | None = None
    dataset_hash: ShortText | None = None
    flavor: Annotated[str, Field(max_length=32)] | None = None
    digest: Annotated[str, Field(max_length=80, pattern=r"^sha256:[0-9a-f]{64}$",
                                 description="sha256:<64 hex> of the artifact, when signoff cannot read it")] | None = None
    description: LongText | None = None
    owner_group: Name | None = None


class LineagePublic(_Out):
    run_id: str | None
    code_commit: str | None
    dataset_hash: str | None


class VersionPublic(_Out):
    model: str
    version: int
    artifact_uri: str
    flavor: str | None
    digest: str | None
    metadata: dict[str, Any]
    metrics: dict[str, float]
    lineage: LineagePublic
    registered_by: str
    registered_at: Timestamp | None
    stages: dict[str, str] = Field(description="Status per environment: PendingManualApproval, Approved…")
    request_states: dict[str, str | None] = Field(
        description="State of the latest approval request per environment (open, approved, rejected, expired, "
                    "cancelled), null where none was ever opened")
    board: dict[str, str] = Field(
        description="What the board shows per environment: not_requested, waiting_for_approval, approved, "
                    "rejected, revoked, blocked (by an earlier rejection or revocation)")
    live_in: list[str]


class LivePublic(_Out):
    """The version live in one environment, and why it may be handed out."""

    model: str
    env: str
    version: int
    artifact_uri: str
    digest: str | None
    flavor: str | None
    approved_by: list[str]
    approved_at: Timestamp
    approved_envs: list[str]
    request_id: int | None
    parameter_version: int


# --- approval requests --------------------------------------------------------------------


class PromotionCreate(_In):
    env: EnvName
    reason: LongText = ""


class DecisionCreate(_In):
    decision: Literal["approve", "reject"]
    comment: LongText = ""
    # Electronic signatures: the signer's password (sent over TLS) and the meaning they sign with.
    password: SecretStr | None = Field(default=None, max_length=1024)
    meaning: str | None = Field(default=None, max_length=512)


class DecisionPublic(_Out):
    actor: str
    decision: str
    comment: str
    at: Timestamp
    groups: list[str]
    evidence: dict[str, Any] | None = Field(
        description="The evidence snapshot the decider was shown, frozen with the decision")


class ApprovalRequestPublic(_Out):
    id: int
    model: str
    version: int
    env: str
    kind: str
    state: str = Field(description="open, approved, rejected, expired or cancelled")
    requested_by: str
    reason: str
    evidence: dict[str, float]
    evidence_source: dict[str, Any] = Field(
        description="Where `evidence` came from: training metrics, or an inference report (env, rows, when)")
    auto_approve_blocked: dict[str, Any] | None = Field(
        description="In an auto-approving environment: the check that left this request to people")
    gate_results: list[dict[str, Any]]
    digest: str | None
    created_at: Timestamp | None
    expires_at: Timestamp | None
    decided_at: Timestamp | None
    decisions: list[DecisionPublic]
    policy: dict[str, Any]
    missing: str | None


# --- inference reports, parameters, audit, events -----------------------------------------


class InferenceReportCreate(_In):
    env: EnvName
    metrics: Metrics
    rows: Count = 0
    started_at: IsoTime | None = None
    finished_at: IsoTime | None = None
    profile: dict[str, Any] | None = None


class InferenceReportPublic(_Out):
    id: int
    model: str
    version: int
    env: str
    metrics: dict[str, float]
    rows: int
    started_at: Timestamp | None
    finished_at: Timestamp | None
    next_env: str | None
    promotion_request: ApprovalRequestPublic | None = Field(
        description="The next environment's request this report opened, if any")


class ParameterPublic(_Out):
    name: str
    version: int
    value: dict[str, Any]
    created_at: Timestamp
    created_by: str


class AuditEntryPublic(_Out):
    id: int
    at: Timestamp
    actor: str
    action: str
    subject: str
    model: str | None
    before: Any = None
    after: Any = None
    prev_hash: str
    hash: str


class AuditProblem(_Out):
    check: str
    message: str
    entry: int | None = None


class AuditReport(_Out):
    ok: bool
    checked: int
    first_broken: int | None
    reason: str
    problems: list[AuditProblem] = []
    checkpoints: int = 0


class EventPublic(_Out):
    seq: int
    event: dict[str, Any] = Field(description="The CloudEvents 1.0 envelope")
    dispatched_at: Timestamp | None


class HealthPublic(BaseModel):
    status: str
    details: dict[str, Any] = Field(default_factory=dict)


# --- event bus: rules and deliveries (issue 5) ---------------------------------------------

from signoff.domain.rules import RULE_NAME, Target

RuleName = Annotated[str, Field(pattern=RULE_NAME)]


class RuleCreate(_In):
    name: RuleName
    description: str = Field(default="", max_length=2000)
    enabled: bool = True
    pattern: dict[str, Any] = Field(description="An EventBridge event pattern, matched against the whole CloudEvent")
    targets: list[Target] = Field(min_length=1, max_length=20)


class RuleUpdate(_In):
    enabled: bool


class RulePublic(_Out):
    name: str
    description: str
    enabled: bool
    pattern: dict[str, Any]
    targets: list[dict[str, Any]] = Field(description="Target definitions; secrets shown as ***")
    source: Literal["default", "config", "api"]
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    updated_by: str


class PatternTest(_In):
    pattern: dict[str, Any]
    event: dict[str, Any]


class PatternTestResult(_Out):
    match: bool


class DeliveryAttemptPublic(_Out):
    number: int
    worker: str
    started_at: Timestamp
    duration_ms: float
    outcome: Literal["ok", "retry", "final", "lost"]
    status_code: int | None
    error: str | None


class DeliveryPublic(_Out):
    id: int
    idempotency_key: str
    event_seq: int
    event_id: str
    event_type: str
    event_time: Timestamp
    rule: str
    target_index: int
    target_type: str
    target: dict[str, Any]
    state: Literal["pending", "running", "succeeded", "dead"]
    attempts: int
    replays: int
    next_attempt_at: Timestamp | None
    lease_owner: str | None
    lease_expires_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    result: dict[str, Any] | None
    created_at: Timestamp
    updated_at: Timestamp
    finished_at: Timestamp | None


class DeliveryDetail(DeliveryPublic):
    attempt_log: list[DeliveryAttemptPublic]
