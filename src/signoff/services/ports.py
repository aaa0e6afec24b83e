"""Interfaces the services depend on; adapters implement them, tests may pass their own."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from signoff.domain.approvals import ApprovalRequest, Decision
from signoff.domain.audit import AuditEntry
from signoff.domain.events import Event
from signoff.domain.mlflow import VersionLink
from signoff.domain.models import LiveVersion, Model, ModelVersion, Stage
from signoff.domain.workflow import Policy, Workflow
from signoff.services.records import (
    AwsKeyRecord,
    DeliveryAttemptRecord,
    DeliveryRecord,
    GroupRecord,
    InferenceReportRecord,
    LiveRecord,
    ModelRecord,
    PromotionRecord,
    RequestRecord,
    RuleRecord,
    TokenRecord,
    UserRecord,
    VersionRecord,
    WebSessionRecord,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests move by hand (soak times, expiry, freeze windows)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at = self.at + timedelta(**delta)


# --- Storage -------------------------------------------------------------------------------
# Repositories hand out records (services/records.py) and domain values; the SQL behind them
# lives in adapters/db/. Writes take values, never rows built by the caller.


class ModelRef(NamedTuple):
    """A model's identity on the registration path, read without loading a full row."""

    id: int
    name: str
    owner_group: str | None


class PasswordCheck(Protocol):
    """Checks a password against its stored hash in constant time (adapters/passwords.py).

    Without a hash it still hashes, so a missing account costs what a wrong password does.
    """

    def __call__(self, password_hash: str | None, password: str, /) -> bool: ...


class ReviewLinkSigner(Protocol):
    """Signed one-recipient review links (adapters/links.py)."""

    def expiry(self, request_expires_at: datetime | None, now: datetime) -> datetime: ...
    def url(self, request_id: int, recipient: str, expires_at: datetime) -> str: ...


class MailRenderer(Protocol):
    """Renders a named mail template to (text, html) (adapters/mail_templates.py)."""

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str]: ...


class LiveLookup(Protocol):
    """The resolve path's read of live pointers, cached per process (adapters/db/live_reader.py)."""

    def get(self, model: str, env: str) -> LiveVersion | None: ...
    def model_exists(self, model: str) -> bool: ...


class ArtifactReader(Protocol):
    """Reads artifacts where they live: digests, existence, flavors (adapters/artifacts.py)."""

    def digest_of(self, uri: str) -> str: ...
    def exists(self, uri: str) -> bool: ...
    def check_flavor(self, flavor: str | None) -> str | None: ...
    def detect_flavor(self, uri: str) -> str: ...


class Signer(Protocol):
    """The server's key ring (adapters/keys.py): signs a payload as a DSSE envelope."""

    def envelope(self, payload_type: str, body: bytes) -> dict[str, Any]: ...


class ModelRepository(Protocol):
    def by_id(self, model_id: int) -> ModelRecord: ...
    def row(self, name: str) -> ModelRecord: ...
    def find(self, name: str) -> ModelRecord | None: ...
    def ref(self, name: str) -> ModelRef | None: ...
    def get(self, name: str) -> Model: ...
    def add(self, model: Model) -> ModelRecord: ...
    def list(self, *, after: str | None = None, limit: int = 100) -> list[Model]: ...
    def search(
        self,
        *,
        text: str | None = None,
        tag: str | None = None,
        owner_group: str | None = None,
        live_in: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[builtins.list[tuple[int, Model]], int]: ...
    def owner_groups(self) -> builtins.list[str]: ...
    def live_numbers(self, model_ids: Sequence[int]) -> dict[int, dict[str, int]]: ...
    def open_request_counts(self, model_ids: Sequence[int]) -> dict[int, int]: ...
    def next_number(self, model_id: int) -> int: ...


class VersionRepository(Protocol):
    def row(self, model: ModelRecord, number: int) -> VersionRecord: ...
    def insert(self, model_id: int, version: ModelVersion, envs: Sequence[str]) -> int: ...
    def stages(self, version_ids: Sequence[int]) -> dict[int, dict[str, Stage]]: ...
    def set_stage(self, version_id: int, env: str, stage: Stage, *, actor: str, at: datetime) -> Stage: ...
    def live_map(self, model_id: int) -> dict[int, list[str]]: ...
    def request_states(self, version_ids: Sequence[int]) -> dict[int, dict[str, str]]: ...
    def to_entity(self, model: ModelRecord, row: VersionRecord, workflow: Workflow) -> ModelVersion: ...
    def list(
        self,
        model: ModelRecord,
        workflow: Workflow,
        *,
        before: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[ModelVersion]: ...
    def count(self, model: ModelRecord) -> int: ...
    def by_id(self, version_id: int) -> VersionRecord: ...


class LiveRepository(Protocol):
    def row(self, model: str, env: str) -> LiveRecord | None: ...
    def lock(self, model: str, env: str) -> None: ...
    def put(
        self,
        *,
        model: ModelRecord,
        version: VersionRecord,
        env: str,
        approved_by: list[str],
        approved_envs: list[str],
        approved_at: datetime,
        request_id: int | None,
        parameter_version: int,
        since: datetime,
    ) -> LiveRecord | None: ...
    def refresh_approved_envs(self, version_id: int, approved_envs: list[str]) -> set[str]: ...
    def clear(self, model: str, env: str) -> LiveRecord | None: ...
    def add_promotion(
        self,
        *,
        model_id: int,
        env: str,
        version_id: int | None,
        previous_version_id: int | None,
        kind: str,
        actor: str,
        reason: str,
        request_id: int | None,
        at: datetime,
    ) -> None: ...
    def history(self, model_id: int, env: str) -> list[PromotionRecord]: ...


class RequestRepository(Protocol):
    def add(self, request: ApprovalRequest, *, model_id: int, version_id: int) -> RequestRecord: ...
    def row(self, request_id: int, *, lock: bool = False) -> RequestRecord: ...
    def open_for(self, version_id: int, env: str) -> RequestRecord | None: ...
    def to_entity(self, row: RequestRecord, model: str, version: int, policy: Policy) -> ApprovalRequest: ...
    def save_decision(self, row: RequestRecord, request: ApprovalRequest, decision: Decision) -> None: ...
    def save_state(self, row: RequestRecord, request: ApprovalRequest) -> None: ...
    def list(
        self,
        *,
        state: str | None = None,
        env: str | None = None,
        model_id: int | None = None,
        version_id: int | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> builtins.list[RequestRecord]: ...
    def approvers_of(self, version_id: int, env: str) -> set[str]: ...
    def count_open(self) -> int: ...


class ReportRepository(Protocol):
    def add(
        self,
        *,
        version_id: int,
        env: str,
        metrics: dict[str, Any],
        rows: int,
        profile: dict[str, Any],
        started_at: datetime | None,
        finished_at: datetime | None,
        reported_by: str,
        reported_at: datetime,
    ) -> InferenceReportRecord: ...
    def latest(self, version_id: int, env: str) -> InferenceReportRecord | None: ...
    def list(self, version_id: int) -> list[InferenceReportRecord]: ...


class ParameterRepository(Protocol):
    def put(self, name: str, value: dict[str, Any], *, actor: str, at: datetime) -> int: ...
    def get(self, name: str, version: int | None = None) -> dict[str, Any]: ...
    def history(self, name: str, *, after: int | None = None, limit: int = 100) -> list[dict[str, Any]]: ...
    def latest_many(self, names: list[str]) -> list[dict[str, Any]]: ...
    def names(self, prefix: str = "/") -> list[str]: ...


class AuditRepository(Protocol):
    def append_many(self, entries: list[AuditEntry]) -> None: ...
    def list(
        self,
        *,
        model: str | None = None,
        subject_prefix: str | None = None,
        since: datetime | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]: ...
    def iter_all(self, batch: int = 2000) -> Iterator[AuditEntry]: ...


class OutboxRepository(Protocol):
    def add_many(self, events: list[Event], at: datetime) -> None: ...
    def list(
        self, *, type: str | None = None, after: int | None = None, limit: int = 100
    ) -> builtins.list[dict[str, Any]]: ...


class UserRepository(Protocol):
    def by_id(self, user_id: int) -> UserRecord: ...
    def lock(self) -> None: ...
    def find(self, name: str) -> UserRecord | None: ...
    def row(self, name: str) -> UserRecord: ...
    def add(
        self,
        *,
        name: str,
        email: str | None,
        password_hash: str | None,
        is_admin: bool,
        source: str,
        created_at: datetime,
        display_name: str | None = None,
    ) -> UserRecord: ...
    def groups_of(self, name: str) -> set[str]: ...
    def members_of(self, groups: list[str]) -> list[UserRecord]: ...
    def group(self, name: str) -> GroupRecord: ...
    def set_groups(self, user: UserRecord, groups: list[str]) -> None: ...
    def list(self) -> list[tuple[UserRecord, set[str]]]: ...
    def of_source(self, source: str) -> builtins.list[UserRecord]: ...
    def revoke_tokens(self, user: UserRecord, now: datetime) -> int: ...
    def end_sessions(self, user: UserRecord) -> int: ...


class RuleRepository(Protocol):
    def lock(self) -> None: ...
    def list(self) -> list[RuleRecord]: ...
    def find(self, name: str) -> RuleRecord | None: ...
    def row(self, name: str) -> RuleRecord: ...
    def next_revision(self) -> int: ...
    def fingerprint(self) -> tuple[int, int]: ...
    def add(
        self,
        *,
        name: str,
        description: str,
        enabled: bool,
        pattern: dict[str, Any],
        targets: builtins.list[Any],
        target_secrets: builtins.list[Any] | None,
        source: str,
        actor: str,
        at: datetime,
    ) -> RuleRecord: ...
    def delete(self, row: RuleRecord) -> None: ...


class DeliveryRepository(Protocol):
    def pending_events(self, limit: int) -> list[Any]: ...
    def mark_dispatched(self, ids: Sequence[int], now: datetime) -> None: ...
    def existing_keys(self, keys: Sequence[str]) -> set[str]: ...
    def add_many(self, rows: list[dict[str, Any]]) -> None: ...
    def claimable(
        self, now: datetime, limit: int, *, types: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> list[Any]: ...
    def lease(self, ids: Sequence[int], owner: str, until: datetime, now: datetime) -> None: ...
    def owned(self, ids: Sequence[int], owner: str) -> set[int]: ...
    def settle(self, changes: list[dict[str, Any]]) -> None: ...
    def add_attempts(self, rows: list[dict[str, Any]]) -> None: ...
    def renew(self, ids: Sequence[int], owner: str, until: datetime) -> int: ...
    def has_work(self, now: datetime) -> bool: ...
    def row(self, delivery_id: int) -> DeliveryRecord: ...
    def list(
        self,
        *,
        state: str | None = None,
        rule: str | None = None,
        event_id: str | None = None,
        target_type: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> builtins.list[DeliveryRecord]: ...
    def attempts(self, delivery_id: int) -> builtins.list[DeliveryAttemptRecord]: ...
    def attempt_count(self, delivery_id: int) -> int: ...
    def stats(self) -> dict[str, Any]: ...
    def live_stats(self) -> dict[str, Any]: ...
    def totals(self) -> dict[str, Any]: ...


class ProfileRepository(Protocol):
    def put(self, version_id: int, profile: dict[str, Any], *, source: str, actor: str, at: datetime) -> None: ...
    def get(self, version_id: int) -> dict[str, Any] | None: ...


class TokenRepository(Protocol):
    def add(
        self,
        *,
        token_hash: str,
        prefix: str,
        user_id: int,
        name: str,
        scopes: list[str],
        created_at: datetime,
        created_by: str,
        expires_at: datetime | None,
    ) -> TokenRecord: ...
    def row(self, token_id: int) -> TokenRecord: ...
    def list(self, *, user: str | None = None) -> list[tuple[TokenRecord, str]]: ...


class MlflowRepository(Protocol):
    def by_mlflow(self, mlflow_model: str, mlflow_version: int) -> VersionLink | None: ...
    def by_signoff(self, model: str, version: int) -> VersionLink | None: ...
    def known_versions(self, mlflow_model: str) -> set[int]: ...
    def is_bridged(self, model: str) -> bool: ...
    def mlflow_name_of(self, model: str) -> str | None: ...
    def model_for(self, mlflow_model: str) -> str | None: ...
    def reserve(
        self, *, mlflow_model: str, mlflow_version: int, model: str, run_id: str | None, at: datetime
    ) -> None: ...
    def complete(self, *, mlflow_model: str, mlflow_version: int, version_id: int, number: int) -> None: ...
    def take_delivery(self, delivery_id: str, event: str, at: datetime, *, forget_before: datetime) -> None: ...
    def lock_alias(self, model: str, env: str) -> None: ...
    def alias_set(self, model: str, env: str) -> tuple[bool, int | None]: ...
    def record_alias(
        self, *, model: str, env: str, mlflow_model: str, alias: str, mlflow_version: int | None, at: datetime
    ) -> None: ...


class AwsKeyRepository(Protocol):
    def add(
        self,
        *,
        access_key_id: str,
        secret_encrypted: str,
        user_id: int,
        name: str,
        scopes: list[str],
        created_at: datetime,
        created_by: str,
        expires_at: datetime | None,
    ) -> AwsKeyRecord: ...
    def row(self, key: int | str) -> tuple[AwsKeyRecord, str]: ...
    def list(self, *, user: str | None = None) -> list[tuple[AwsKeyRecord, str]]: ...


class MismatchRepository(Protocol):
    def first_report(self, version_id: int, digest: str, *, actor: str, at: datetime) -> bool: ...


class RetentionRepository(Protocol):
    def lock(self) -> None: ...
    def delete_deliveries(self, *, state: str, before: datetime, limit: int) -> tuple[int, int]: ...
    def count_deliveries(self, *, state: str, before: datetime) -> tuple[int, int]: ...
    def delete_events(self, *, before: datetime, limit: int) -> int: ...
    def count_events(self, *, before: datetime) -> int: ...
    def delete_sessions(self, *, before: datetime, limit: int) -> int: ...
    def count_sessions(self, *, before: datetime) -> int: ...
    def delete_tokens(self, *, before: datetime, limit: int) -> int: ...
    def count_tokens(self, *, before: datetime) -> int: ...


class AttestationRepository(Protocol):
    def add(
        self,
        *,
        model_id: int,
        version_id: int,
        env: str,
        kind: str,
        digest: str,
        request_id: int | None,
        parameter_version: int,
        keyid: str,
        payload_sha256: str,
        envelope: dict[str, Any],
        at: datetime,
    ) -> None: ...
    def list(self, version_id: int, env: str | None = None) -> list[dict[str, Any]]: ...


class CheckpointRepository(Protocol):
    def add(
        self, *, at: datetime, count: int, head_id: int | None, head_hash: str, keyid: str, envelope: dict[str, Any]
    ) -> int: ...
    def envelopes(self) -> list[dict[str, Any]]: ...
    def latest_at(self) -> datetime | None: ...
    def head(self) -> tuple[int, int | None, str]: ...


class VerificationRepository(Protocol):
    def add(self, *, at: datetime, ok: bool, checked: int, problems: list[dict[str, Any]], by: str) -> None: ...
    def latest(self) -> dict[str, Any] | None: ...


class StateRepository(Protocol):
    def live_pointers(self) -> list[dict[str, Any]]: ...
    def latest_parameters(self) -> list[dict[str, Any]]: ...


class SignatureRepository(Protocol):
    def add(
        self,
        *,
        request_id: int,
        user: str,
        meaning: str,
        signed_at: datetime,
        record: dict[str, Any],
        envelope: dict[str, Any],
    ) -> int: ...
    def for_requests(self, request_ids: list[int]) -> dict[int, list[dict[str, Any]]]: ...
    def all(self) -> list[dict[str, Any]]: ...
    def last_signed_at(self, user: str) -> datetime | None: ...
    def add_failure(self, user: str, at: datetime, method: str) -> None: ...
    def failures_since(self, user: str, since: datetime) -> list[datetime]: ...


class WebSessionRepository(Protocol):
    def add(
        self,
        *,
        session_hash: str,
        user_id: int,
        csrf_token: str,
        created_at: datetime,
        expires_at: datetime,
        user_agent: str,
    ) -> WebSessionRecord: ...
    def find(self, session_hash: str) -> tuple[WebSessionRecord, UserRecord] | None: ...
    def delete(self, session_hash: str) -> int: ...
    def delete_expired(self, now: datetime) -> int: ...


class UnitOfWork(Protocol):
    """One use case, one transaction: the repositories, the audit and event journal, commit.

    See adapters/db/unit_of_work.py.
    """

    models: ModelRepository
    versions: VersionRepository
    live: LiveRepository
    requests: RequestRepository
    reports: ReportRepository
    params: ParameterRepository
    audit: AuditRepository
    outbox: OutboxRepository
    users: UserRepository
    rules: RuleRepository
    deliveries: DeliveryRepository
    profiles: ProfileRepository
    tokens: TokenRepository
    mlflow: MlflowRepository
    aws_keys: AwsKeyRepository
    mismatches: MismatchRepository
    retention: RetentionRepository
    attestations: AttestationRepository
    checkpoints: CheckpointRepository
    verifications: VerificationRepository
    state: StateRepository
    signatures: SignatureRepository
    web_sessions: WebSessionRepository
    clock: Clock
    signer: Signer | None

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, *exc: Any) -> None: ...
    def emit(self, event: Any) -> None: ...
    def record(
        self, *, actor: str, action: str, subject: str, model: str | None, before: Any = ..., after: Any = ...
    ) -> None: ...
    def commit(self) -> None: ...
    def live_moved(self, model: str) -> None: ...
    def part(self) -> AbstractContextManager[None]: ...

    def savepoint(self) -> AbstractContextManager[None]:
        """Writes inside are undone together if the block raises; the transaction goes on."""
        ...

    def flush(self) -> None:
        """Send pending writes now, so constraint errors surface here and reads see them."""
        ...


# --- Event bus (issue 5): what targets need from the outside world ------------------------


@dataclass(frozen=True)
class MailMessage:
    """A rendered email; `message_id` is stable per delivery so retries can be recognised."""

    to: list[str]
    subject: str
    text: str
    html: str | None = None
    message_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    """Sends mail. Raises DeliveryFailed with details {"retry": bool, "status_code": int | None}."""

    def send(self, message: MailMessage, *, timeout: float | None = None) -> None: ...
