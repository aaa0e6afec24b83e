"""Interfaces the services depend on; adapters implement them, tests may pass their own."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


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


class UnitOfWork(Protocol):
    """What services need from storage; see adapters/db/unit_of_work.py."""

    models: Any
    versions: Any
    live: Any
    requests: Any
    reports: Any
    params: Any
    audit: Any
    outbox: Any
    users: Any
    rules: Any
    deliveries: Any
    profiles: Any
    tokens: Any
    mlflow: Any
    aws_keys: Any
    mismatches: Any
    retention: Any
    search: Any
    history: Any
    clock: Clock

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, *exc: Any) -> None: ...
    def emit(self, event: Any) -> None: ...
    def record(self, *, actor: str, action: str, subject: str, model: str | None, before: Any = ..., after: Any = ...) -> None: ...
    def commit(self) -> None: ...
    def live_moved(self, model: str) -> None: ...
    def part(self) -> AbstractContextManager[None]: ...


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
