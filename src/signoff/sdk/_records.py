"""What the SDK returns, and what the REST API declares as its response bodies: one set of models.

Entities (a version, an approval request, a rule…) are pydantic models shared by both transports
and by the API's `response_model`, so a version has one representation from the wire to the
caller. They read like the dicts they replace (`v["version"]`, `v.get("digest")`, `dict(v)`,
`json.dumps(v, default=jsonable)`) and like objects (`v.version`). Public models allow extra keys:
a field a service adds is never silently dropped. Documents with their own formats (DSSE
envelopes, evidence packs, key sets) stay `Record`s: dicts with attribute access.

Response timestamps are the services' ISO 8601 strings, passed through unchanged, so the HTTP
client returns exactly what the embedded client returns. Importable with the core install alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Record(dict[str, Any]):
    """A dict (so `json.dumps` and `r["version"]` work) with `r.version` as well."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def record(value: Any) -> Any:
    """JSON-shaped data with every object, however deep, a Record."""
    if isinstance(value, dict):
        return record_of(value)
    if isinstance(value, list):
        return [record(v) for v in value]
    return value


def record_of(value: Mapping[str, Any]) -> Record:
    """A JSON object (a response body, a service's document) as a Record."""
    return Record({k: record(v) for k, v in value.items()})


def plain(value: Any) -> Any:
    """JSON-shaped data: models dumped, mappings and lists walked."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """`json.dumps(result, default=jsonable)`: models as their JSON form, anything else as text."""
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else str(value)


class Result(BaseModel):
    """A typed result that also reads as the mapping it is on the wire."""

    model_config = ConfigDict(extra="allow")

    def _as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, **(self.__pydantic_extra__ or {})}

    def __getitem__(self, key: str) -> Any:
        try:
            return self._as_dict()[key]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._as_dict().get(key, default)

    def keys(self) -> Any:
        return self._as_dict().keys()

    def values(self) -> Any:
        return self._as_dict().values()

    def items(self) -> Any:
        return self._as_dict().items()

    def __contains__(self, key: object) -> bool:
        return key in self._as_dict()

    def __len__(self) -> int:
        return len(self._as_dict())

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]  # keys, not pydantic's (name, value) pairs
        # A mapping's iteration (keys), as the dicts these results replace.
        return iter(self._as_dict())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (BaseModel, Mapping)):
            return bool(plain(self) == plain(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared by value and mutable, as the dicts were


# --- models and versions ----------------------------------------------------------------


class ModelPublic(Result):
    name: str
    description: str
    owner_group: str | None
    tags: dict[str, str]
    created_at: Timestamp | None
    created_by: str | None
    latest_version: int


class RegisterOptions(TypedDict, total=False):
    """The keywords of `register` after the model and the artifact URI, every one optional. Both
    transports take exactly these (type checkers read them here); the version's fields go to the
    server as they are, so a new one is declared here, next to VersionPublic, and nowhere else in
    the SDK."""

    metrics: dict[str, Any] | None
    metadata: dict[str, Any] | None
    run_id: str | None
    code_commit: str | None
    dataset_hash: str | None
    flavor: str | None
    digest: str | None
    description: str | None  # the model's, when this registration creates it
    owner_group: str | None  # the model's, likewise
    reference: Any  # training data (DataFrame, array, CSV/Parquet path) or its profile: the drift reference
    store: bool | None  # copy the artifact into the artifact root by digest (embedded only)


def register_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """`register`'s keywords as a dict; raises TypeError for one it does not take, as Python would
    for a signature listing them."""
    unknown = sorted(set(options) - RegisterOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"register() got an unexpected keyword argument {unknown[0]!r}")
    return dict(options)


class LineagePublic(Result):
    run_id: str | None
    code_commit: str | None
    dataset_hash: str | None


class VersionPublic(Result):
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


class LivePublic(Result):
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


class DecisionPublic(Result):
    actor: str
    decision: str
    comment: str
    at: Timestamp
    groups: list[str]
    evidence: dict[str, Any] | None = Field(
        description="The evidence snapshot the decider was shown, frozen with the decision")


class ApprovalRequestPublic(Result):
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


class InferenceReportPublic(Result):
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


class ParameterPublic(Result):
    name: str
    version: int
    value: dict[str, Any]
    created_at: Timestamp
    created_by: str


class AuditEntryPublic(Result):
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


class AuditProblem(Result):
    check: str
    message: str
    entry: int | None = None


class AuditReport(Result):
    ok: bool
    checked: int
    first_broken: int | None
    reason: str
    problems: list[AuditProblem] = []
    warnings: list[AuditProblem] = Field(default=[], description="Not breaks: e.g. decisions made before their "
                                         "environment required signatures")
    checkpoints: int = 0


class EventPublic(Result):
    seq: int
    event: dict[str, Any] = Field(description="The CloudEvents 1.0 envelope")
    dispatched_at: Timestamp | None


# --- event bus: rules and deliveries ------------------------------------------------------


class RulePublic(Result):
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


class PatternTestResult(Result):
    match: bool


class DeliveryAttemptPublic(Result):
    number: int
    worker: str
    started_at: Timestamp
    duration_ms: float
    outcome: Literal["ok", "retry", "final", "lost"]
    status_code: int | None
    error: str | None


class DeliveryPublic(Result):
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


# --- people and credentials (admin scope) --------------------------------------------------


class UserPublic(Result):
    name: str
    email: str | None
    groups: list[str]
    admin: bool
    disabled: bool
    state: str = Field(description="active, disabled or deleted")
    source: str


class TokenPublic(Result):
    id: int
    user: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: Timestamp
    created_by: str
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The token itself: shown in this response only, stored as a hash")


class AwsKeyPublic(Result):
    id: int
    access_key_id: str
    user: str
    name: str
    scopes: list[str]
    created_at: Timestamp
    created_by: str
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class AwsKeyCreated(AwsKeyPublic):
    secret_access_key: str = Field(description="Shown in this response only; stored encrypted")
