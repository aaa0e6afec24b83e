"""Domain errors shared by every door (CLI, REST, SDK, web).

Each class carries a stable string ``code`` that survives the trip over HTTP, so the SDK can
raise the same class the server raised, and its HTTP ``status`` and CLI ``exit_code``: the API,
the web pages, the CLI and the SDK (status back to class, for a body whose code it does not
know) all read them here. Subclasses inherit both unless they say otherwise.

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

from typing import Any, ClassVar

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
    "error_for_status",
]


class SignoffError(Exception):
    """Base of every error signoff raises on purpose."""

    code = "error"
    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    # Only on an error the HTTP client rebuilt from a response: the status the server answered.
    status_code: int

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(SignoffError):
    code = "invalid_input"
    status = 400
    exit_code = 2  # also Typer's own usage-error code


class PatternInvalid(InvalidInput):
    code = "invalid_pattern"


class InvalidArtifact(InvalidInput):
    """A registration whose bytes cannot be pinned down: answered 422, naming the path."""

    code = "invalid_artifact"
    status = 422


class NotFound(SignoffError):
    code = "not_found"
    status = 404
    exit_code = 3


class Conflict(SignoffError):
    code = "conflict"
    status = 409
    exit_code = 4


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
    status = 403
    exit_code = 5


class AuthenticationFailed(SignoffError):
    code = "unauthenticated"
    status = 401
    exit_code = 6


class RateLimited(SignoffError):
    """Refused before any check: too many recent failures; `retry_after` says when to try again."""

    code = "rate_limited"
    status = 429
    exit_code = 7  # "not now, try again later", like an unavailable server

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
    status = 503
    exit_code = 7


class DeliveryFailed(SignoffError):
    code = "delivery_failed"
    status = 502
    exit_code = 8


def _all_subclasses(cls: type[SignoffError]) -> list[type[SignoffError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_for_status(status: int) -> type[SignoffError]:
    """The class for an error answer whose body names no code this client knows (an older client,
    a proxy's own error): the family (a direct subclass of SignoffError) that answers with
    `status`, so a 422 is InvalidInput, as is a proxy's 413; a 5xx from a gateway means the server
    is not available; anything else is the base class."""
    if status >= 500:
        return ServiceUnavailable if status >= 502 else SignoffError
    if status == 413:  # the body-size limit (the API's payload_too_large, or a proxy's)
        return InvalidInput
    for family in SignoffError.__subclasses__():
        if any(cls.status == status for cls in _all_subclasses(family)):
            return family
    return SignoffError


def error_for_code(code: str) -> type[SignoffError]:
    """The class that owns ``code``; unknown codes fall back to the base class."""
    for cls in _all_subclasses(SignoffError):
        if cls.code == code:
            return cls
    return SignoffError
