"""Request and response bodies, named by role (`VersionCreate`, `VersionPublic`).

The response bodies are the SDK's result models (signoff/sdk/_records.py), re-exported here:
one representation of a version, a request, a rule, for the API and both SDK transports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import SecretStr, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from signoff.sdk._records import (  # re-exported: the routes declare them as response_model
    ApprovalRequestPublic as ApprovalRequestPublic,
    AuditEntryPublic as AuditEntryPublic,
    AuditProblem as AuditProblem,
    AuditReport as AuditReport,
    AwsKeyCreated as AwsKeyCreated,
    AwsKeyPublic as AwsKeyPublic,
    DecisionPublic as DecisionPublic,
    DeliveryAttemptPublic as DeliveryAttemptPublic,
    DeliveryDetail as DeliveryDetail,
    DeliveryPublic as DeliveryPublic,
    EventPublic as EventPublic,
    InferenceReportPublic as InferenceReportPublic,
    LineagePublic as LineagePublic,
    LivePublic as LivePublic,
    ModelPublic as ModelPublic,
    ParameterPublic as ParameterPublic,
    PatternTestResult as PatternTestResult,
    Result as Result,
    RulePublic as RulePublic,
    Timestamp as Timestamp,
    TokenCreated as TokenCreated,
    TokenPublic as TokenPublic,
    UserPublic as UserPublic,
    VersionPublic as VersionPublic,
)
from signoff.domain import models

T = TypeVar("T")

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


_Out = Result  # response bodies allow extra keys: a field a service adds is never dropped


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
    reference_profile: dict[str, Any] | None = Field(
        default=None, description="The training data's profile (signoff.inference), which drift is measured against; "
                                  "stored with the version, in the same transaction")


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


# --- inference reports, parameters, audit, events -----------------------------------------


class InferenceReportCreate(_In):
    env: EnvName
    metrics: Metrics
    rows: Count = 0
    started_at: IsoTime | None = None
    finished_at: IsoTime | None = None
    profile: dict[str, Any] | None = None


class HealthPublic(BaseModel):
    status: str
    details: dict[str, Any] = Field(default_factory=dict)


# --- event bus: rules and deliveries ------------------------------------------------------

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


class PatternTest(_In):
    pattern: dict[str, Any]
    event: dict[str, Any]
