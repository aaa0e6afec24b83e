"""The MLflow bridge's pure rules: webhook signatures, which names are governed, event names.

MLflow 3 signs a webhook delivery with three headers (mlflow/webhooks/constants.py):
``X-MLflow-Delivery-Id``, ``X-MLflow-Timestamp`` (unix seconds) and ``X-MLflow-Signature``:
``v1,<base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<raw body>">``, keyed by the webhook's
secret (Standard Webhooks conventions). The body is ``{"entity", "action", "timestamp", "data"}``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from signoff.errors import AuthenticationFailed, InvalidInput

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"

# The registry events the bridge takes, as MLflow names them (entity, action), and the type of
# the signoff event each becomes in the outbox.
WEBHOOK_EVENTS = {
    ("model_version", "created"): "signoff.mlflow.model_version.created",
    ("model_version_alias", "created"): "signoff.mlflow.model_version_alias.created",
    ("model_version_alias", "deleted"): "signoff.mlflow.model_version_alias.deleted",
    ("model_version_tag", "set"): "signoff.mlflow.model_version_tag.set",
}
INTAKE_PREFIX = "signoff.mlflow.model_version"
ALIAS_REVERTED = "signoff.mlflow.alias_reverted"
TAG_REVERTED = "signoff.mlflow.tag_reverted"
TAG_PREFIX = "signoff."
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The header value MLflow would send (tests and benchmarks sign with it too)."""
    content = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    timestamp: int
    entity: str
    action: str
    data: dict[str, Any]

    @property
    def event_type(self) -> str | None:
        return WEBHOOK_EVENTS.get((self.entity, self.action))


def verify(*, secret: str, headers: dict[str, str], body: bytes, now: float, max_age: float) -> Delivery:
    """Check a delivery's signature and age; raises AuthenticationFailed (bad or missing
    signature), InvalidInput (stale or future timestamp, malformed body)."""
    delivery_id = headers.get(DELIVERY_ID_HEADER.lower(), "")
    stamp = headers.get(TIMESTAMP_HEADER.lower(), "")
    signature = headers.get(SIGNATURE_HEADER.lower(), "")
    if not signature:
        raise AuthenticationFailed(f"the {SIGNATURE_HEADER} header is missing", details={"header": SIGNATURE_HEADER})
    if not _DELIVERY_ID.fullmatch(delivery_id) or not stamp.isdigit():
        raise AuthenticationFailed(f"{DELIVERY_ID_HEADER} and {TIMESTAMP_HEADER} must be present and well formed",
                                   details={"header": DELIVERY_ID_HEADER})
    expected = sign(secret, delivery_id, stamp, body)
    # Any of several space-separated signatures may match (Standard Webhooks key rotation).
    offered = [s for s in signature.split() if s.startswith(SIGNATURE_VERSION + ",")]
    if not any(hmac.compare_digest(expected.encode(), s.encode()) for s in offered):
        raise AuthenticationFailed("the webhook signature does not match (wrong secret or altered body)",
                                   details={"header": SIGNATURE_HEADER})
    # Age is checked after the signature, so an unsigned caller learns nothing about the clock.
    age = now - int(stamp)
    if abs(age) > max_age:
        raise InvalidInput(f"the webhook timestamp is {int(age)} s away from now (at most {int(max_age)} s); "
                           "refusing a stale or replayed delivery",
                           details={"header": TIMESTAMP_HEADER, "age_seconds": int(age)})
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidInput("the webhook body is not JSON", details={"field": "body"}) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise InvalidInput("the webhook body needs entity, action and a data object", details={"field": "data"})
    return Delivery(delivery_id, int(stamp), str(payload.get("entity", "")), str(payload.get("action", "")),
                    payload["data"])


def governs(patterns: list[str], name: str) -> bool:
    """Whether a registered model is under sign-off (`models` holds names or shell globs)."""
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


_INVALID = re.compile(r"[^a-z0-9._-]+")


def signoff_name(mlflow_name: str) -> str:
    """A signoff model name for an MLflow one (MLflow allows spaces, capitals, slashes)."""
    name = _INVALID.sub("-", mlflow_name.lower()).strip("-._")[:128]
    if not name:
        raise InvalidInput(f"MLflow model {mlflow_name!r} has no usable signoff name", details={"name": mlflow_name})
    return name


def expected_tags(env: str, stage: str, approvers: list[str] | None = None,
                  request_id: int | None = None) -> dict[str, str]:
    """The `signoff.<env>*` tags an MLflow version carries for its status in env."""
    tags = {f"{TAG_PREFIX}{env}": stage}
    if stage == "approved":
        tags[f"{TAG_PREFIX}{env}.approved_by"] = ",".join(approvers or [])
        tags[f"{TAG_PREFIX}{env}.request_id"] = "" if request_id is None else str(request_id)
    return tags


@dataclass(frozen=True)
class VersionLink:
    """An MLflow model version and the signoff version it became (None while it is being copied)."""

    mlflow_model: str
    mlflow_version: int
    model: str
    version: int | None
    run_id: str | None
