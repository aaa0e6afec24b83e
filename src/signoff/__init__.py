"""signoff: a model registry whose job is human sign-off.

The public SDK surface: ``Client`` and the error classes; it needs only httpx and pydantic.
The rest is in extras (``signoff[cli]``, ``[server]``, ``[inference]``, ``[demo]``); using a
part whose extra is missing raises ImportError naming the extra to install.
"""

import typing

from signoff.errors import (
    AlreadyExists,
    ArtifactMismatch,
    AuthenticationFailed,
    Conflict,
    DeliveryFailed,
    GateFailed,
    InvalidArtifact,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PatternInvalid,
    PermissionDenied,
    PolicyViolation,
    RateLimited,
    ReauthRequired,
    ServiceUnavailable,
    SignoffError,
    VerificationFailed,
)
from signoff.sdk._base import BaseClient
from signoff.sdk._client import Client
from signoff.sdk._attest import verify_attestation
from signoff.sdk._records import (
    ApprovalRequestPublic,
    AuditEntryPublic,
    AuditReport,
    AwsKeyCreated,
    AwsKeyPublic,
    DecisionPublic,
    DeliveryDetail,
    DeliveryPublic,
    EventPublic,
    InferenceReportPublic,
    LivePublic,
    ModelPublic,
    ParameterPublic,
    Record,
    RegisterOptions,
    Result,
    RulePublic,
    TokenCreated,
    TokenPublic,
    UserPublic,
    VersionPublic,
)
from signoff.sdk._resolved import Resolved

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "ApprovalRequestPublic",
    "ArtifactMismatch",
    "AuditEntryPublic",
    "AuditReport",
    "AuthenticationFailed",
    "AwsKeyCreated",
    "AwsKeyPublic",
    "BaseClient",
    "Client",
    "Conflict",
    "DecisionPublic",
    "DeliveryDetail",
    "DeliveryFailed",
    "DeliveryPublic",
    "EventPublic",
    "GateFailed",
    "InferenceReportPublic",
    "InvalidArtifact",
    "InvalidInput",
    "InvalidTransition",
    "LivePublic",
    "ModelPublic",
    "NotFound",
    "ParameterPublic",
    "PatternInvalid",
    "PermissionDenied",
    "PolicyViolation",
    "RateLimited",
    "ReauthRequired",
    "Record",
    "RegisterOptions",
    "Resolved",
    "Result",
    "RulePublic",
    "ServiceUnavailable",
    "SignoffError",
    "TokenCreated",
    "TokenPublic",
    "UserPublic",
    "VerificationFailed",
    "VersionPublic",
    "verify_attestation",
    "__version__",
]


def __getattr__(name: str) -> typing.Any:
    # `signoff.inference` (batch runs) needs numpy and pandas: imported on first use, not with the SDK.
    if name == "inference":
        import importlib

        from signoff._extras import missing_extra

        try:
            return importlib.import_module("signoff.inference")
        except ImportError as exc:
            raise (missing_extra(exc, "signoff.inference", default="inference") or exc) from None
    raise AttributeError(f"module 'signoff' has no attribute {name!r}")
