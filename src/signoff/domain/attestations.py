"""What a deployment attestation says, as an in-toto Statement v1 (pure: no keys, no storage).

The subject is the artifact (its URI and SHA-256); the predicate is the in-toto deployment
predicate v1 with the environment as its scope and the decision behind the move in
`decisionDetails` (approvers and the meaning each signed with, the policy, the evidence hash,
the request and the parameter version).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from signoff.domain.events import canonical_json
from signoff.sdk._attest import DEPLOYMENT_PREDICATE, ENVIRONMENT_SCOPE, STATEMENT_TYPE


def canonical_sha256(value: Any) -> str:
    """SHA-256 (hex) of a value's canonical JSON: the one hash of evidence, policies, records."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def evidence_hash(evidence: dict[str, Any]) -> str:
    """The hash of the evidence a decider saw; signatures and attestations both carry it."""
    return canonical_sha256(evidence)


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def deployment_statement(
    *,
    model: str,
    version: int,
    artifact_uri: str,
    digest: str,
    env: str,
    created_at: datetime,
    change: str,
    request_id: int | None,
    parameter: str,
    parameter_version: int,
    approvers: list[dict[str, Any]],
    policy: dict[str, Any],
    evidence_sha256: str | None,
) -> dict[str, Any]:
    """The statement that `digest` may run in `env`, and the decision that says so."""
    evidence: dict[str, Any] = {
        "name": f"signoff/models/{model}/versions/{version}/decision",
        "annotations": {
            "change": change,
            "request_id": request_id,
            "approvers": approvers,
            "parameter": parameter,
            "parameter_version": parameter_version,
        },
    }
    if evidence_sha256:
        evidence["digest"] = {"sha256": evidence_sha256}
    else:  # a ResourceDescriptor needs a digest, uri or content: name the request instead
        evidence["uri"] = f"signoff:requests/{request_id}" if request_id else f"signoff:{change}"
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": artifact_uri,
            "digest": {"sha256": digest.removeprefix("sha256:")},
            "annotations": {"model": model, "version": version},
        }],
        "predicateType": DEPLOYMENT_PREDICATE,
        "predicate": {
            "creationTime": rfc3339(created_at),
            "scopes": {ENVIRONMENT_SCOPE: env},
            "decisionDetails": {
                "evidence": [evidence],
                "policy": [{
                    "name": f"signoff/policies/{env}",
                    "digest": {"sha256": canonical_sha256(policy)},
                    "annotations": {"policy": policy},
                }],
            },
        },
    }
