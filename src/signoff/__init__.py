"""signoff: a model registry whose job is human sign-off.

The public SDK surface: ``Client`` and the error classes. Server-side code lives in
submodules and needs the ``signoff[server]`` extra.
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
from signoff.sdk._records import Record

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "ArtifactMismatch",
    "AuthenticationFailed",
    "BaseClient",
    "Client",
    "Conflict",
    "DeliveryFailed",
    "GateFailed",
    "InvalidArtifact",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "PatternInvalid",
    "PermissionDenied",
    "PolicyViolation",
    "RateLimited",
    "ReauthRequired",
    "Record",
    "ServiceUnavailable",
    "SignoffError",
    "VerificationFailed",
    "verify_attestation",
    "__version__",
]


def __getattr__(name: str) -> typing.Any:
    # `signoff.inference` (batch runs) needs numpy and pandas: imported on first use, not with the SDK.
    if name == "inference":
        import importlib

        return importlib.import_module("signoff.inference")
    raise AttributeError(f"module 'signoff' has no attribute {name!r}")
