"""Domain errors shared by every door (CLI, REST, SDK, web).

Each class carries a stable string ``code`` that survives the trip over HTTP, so the SDK can
raise the same class the server raised. HTTP status codes and CLI exit codes are mapped from
these classes in exactly one place each (``entrypoints/api/errors.py``, ``entrypoints/cli``).

    SignoffError
     ├── InvalidInput          bad input: malformed name, non-numeric metric, bad config
     │    ├── PatternInvalid   an event pattern that EventBridge would refuse
     │    └── InvalidArtifact  an artifact path or URL that does not exist, a digest its bytes contradict
     ├── NotFound              unknown model, version, environment, request, parameter…
     ├── Conflict              the world is not in a state that allows this
     │    ├── AlreadyExists    unique name or key taken
     │    ├── InvalidTransition  e.g. promote to test before approved in dev
     │    ├── PolicyViolation  a gate failed, soak time not met, freeze window
     │    │    └── GateFailed
     │    └── ArtifactMismatch  the artifact's bytes no longer match the approved digest
     ├── PermissionDenied      authenticated but not allowed (not an approver, registrant…)
     ├── AuthenticationFailed  no or bad credentials
     │    └── ReauthRequired   an electronic signature needs fresh authentication
     ├── VerificationFailed    a signature, attestation or checkpoint does not hold (offline checks)
     ├── RateLimited           too many failed sign-ins: wait `details["retry_after"]` seconds
     ├── ServiceUnavailable    a dependency (directory, database) is down
     └── DeliveryFailed        a target could not be reached (worker-side)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SignoffError",
    "InvalidInput",
    "PatternInvalid",
    "InvalidArtifact",
    "NotFound",
    "Conflict",
    "AlreadyExists",
    "InvalidTransition",
    "PolicyViolation",
    "GateFailed",
    "ArtifactMismatch",
    "PermissionDenied",
    "AuthenticationFailed",
    "RateLimited",
    "ReauthRequired",
    "VerificationFailed",
    "ServiceUnavailable",
    "DeliveryFailed",
    "error_for_code",
]


class SignoffError(Exception):
    """Base of every error signoff raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(SignoffError):
    code = "invalid_input"


class PatternInvalid(InvalidInput):
    code = "invalid_pattern"


class InvalidArtifact(InvalidInput):
    """A registration whose bytes cannot be pinned down: answered 422, naming the path."""

    code = "invalid_artifact"


class NotFound(SignoffError):
    code = "not_found"


class Conflict(SignoffError):
    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PolicyViolation(Conflict):
    code = "policy_violation"


class GateFailed(PolicyViolation):
    code = "gate_failed"


class ArtifactMismatch(Conflict):
    """Refuses to hand out a model whose artifact is not the one that was approved."""

    code = "artifact_mismatch"


class PermissionDenied(SignoffError):
    code = "forbidden"


class AuthenticationFailed(SignoffError):
    code = "unauthenticated"


class RateLimited(SignoffError):
    """Refused before any check: too many recent failures; `retry_after` says when to try again."""

    code = "rate_limited"

    @property
    def retry_after(self) -> int:
        return max(1, int(self.details.get("retry_after", 1)))
class ReauthRequired(AuthenticationFailed):
    code = "reauth_required"


class VerificationFailed(SignoffError):
    """Raised by the offline verifiers; the message is the reason the thing was refused."""

    code = "verification_failed"


class ServiceUnavailable(SignoffError):
    code = "unavailable"


class DeliveryFailed(SignoffError):
    code = "delivery_failed"


def _all_subclasses(cls: type[SignoffError]) -> list[type[SignoffError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_for_code(code: str) -> type[SignoffError]:
    """The class that owns ``code``; unknown codes fall back to the base class."""
    for cls in _all_subclasses(SignoffError):
        if cls.code == code:
            return cls
    return SignoffError
