"""Interfaces the services depend on; adapters implement them, tests may pass their own."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from signoff.domain.models import LiveVersion
from signoff.services.repositories import (
    AttestationRepository,
    AuditRepository,
    AwsKeyRepository,
    CheckpointRepository,
    DeliveryRepository,
    LiveRepository,
    MismatchRepository,
    MlflowRepository,
    ModelRepository,
    OutboxRepository,
    ParameterRepository,
    ProfileRepository,
    ReportRepository,
    RequestRepository,
    RetentionRepository,
    RevocationRepository,
    RuleRepository,
    SignatureRepository,
    StateRepository,
    TokenRepository,
    UserRepository,
    VerificationRepository,
    VersionRepository,
    WebSessionRepository,
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
    revocations: RevocationRepository
    # Read-only views for pages; untyped until they get their Protocols (services/repositories.py).
    search: Any
    history: Any
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
    def batch_member(self) -> AbstractContextManager[None]: ...

    def savepoint(self) -> AbstractContextManager[None]:
        """Writes inside are undone together if the block raises; the transaction goes on."""
        ...

    def flush(self) -> None:
        """Send pending writes now, so constraint errors surface here and reads see them."""
        ...


# --- Event bus: what targets need from the outside world ------------------------


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
