"""Deliveries: what one attempt to run a target can end in, and what happens next.

A delivery moves ``pending → running → succeeded``; a failed attempt goes back to ``pending``
with a backoff, or to ``dead`` when the failure is final or the attempts are used up. A dead
delivery stays visible and can be replayed. ``running`` carries a lease its worker renews; a
lease that runs out means the worker died, and another takes the delivery over.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class DeliveryState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


STATES = tuple(s.value for s in DeliveryState)


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: ``ok``, ``retry`` (transient), ``final`` (retrying cannot help), or
    ``lost`` (its worker died before reporting; recorded when another takes the delivery over)."""

    kind: Literal["ok", "retry", "final", "lost"]
    status_code: int | None = None
    error: str | None = None
    result: dict[str, Any] | None = None

    @classmethod
    def ok(cls, status_code: int | None = None, **result: Any) -> Outcome:
        return cls("ok", status_code, None, result or None)

    @classmethod
    def retry(cls, error: str, status_code: int | None = None) -> Outcome:
        return cls("retry", status_code, error[:2000])

    @classmethod
    def final(cls, error: str, status_code: int | None = None) -> Outcome:
        return cls("final", status_code, error[:2000])


def http_outcome(status: int, body: str = "") -> Outcome:
    """2xx succeeds; 408, 429 and 5xx are worth retrying; any other status is final."""
    if 200 <= status < 300:
        return Outcome.ok(status)
    excerpt = f": {body.strip()[:200]}" if body.strip() else ""
    if status in (408, 429) or status >= 500:
        return Outcome.retry(f"HTTP {status}{excerpt}", status)
    return Outcome.final(f"HTTP {status}{excerpt}", status)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits between half and all of base·2^(n-1), capped."""

    max_attempts: int = 8
    base: float = 2.0
    cap: float = 600.0
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        ceiling: float = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        # Half fixed, half random: spreads a burst of failures without ever retrying at once.
        return ceiling / 2 + self.rand() * ceiling / 2

    def after(self, attempt: int, outcome: Outcome) -> tuple[DeliveryState, float | None]:
        """The state after attempt number `attempt` ended in `outcome`, and the wait if it is retried."""
        if outcome.kind == "ok":
            return DeliveryState.SUCCEEDED, None
        if outcome.kind == "final" or attempt >= self.max_attempts:
            return DeliveryState.DEAD, None
        return DeliveryState.PENDING, self.delay(attempt)


@dataclass(frozen=True)
class Job:
    """A claimed delivery, as a target runner sees it."""

    id: int
    key: str
    attempt: int
    rule: str
    target: Any
    event: dict[str, Any]
    event_seq: int = 0

    @property
    def target_type(self) -> str:
        return str(self.target.type)
