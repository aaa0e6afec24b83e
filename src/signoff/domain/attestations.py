"""What a deployment attestation says, as an in-toto Statement v1 (pure: no keys, no storage).

The subject is the artifact (its URI and SHA-256); the predicate is the in-toto deployment
predicate v1 with the environment as its scope and the decision behind the move in
`decisionDetails` (approvers and the meaning each signed with, the policy, the evidence hash,
the request and the parameter version).

The decision's evidence comes in two forms. Form 2 (annotation `evidence_version: 2`) lists
each approving signer with the meaning they signed and the hash of the evidence snapshot frozen
with their own decision (`signers`), and the descriptor's digest is the hash of that list. Form
1 (no `evidence_version`; attestations made before form 2) carried one hash of the request's
evidence. Verifiers accept both.
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


EVIDENCE_VERSION = 2


def signers_digest(signers: list[dict[str, Any]]) -> str:
    """The decision descriptor's digest in evidence form 2: the hash of its signer list."""
    return canonical_sha256(signers)


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
    evidence_sha256: str | None = None,
    signers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The statement that `digest` may run in `env`, and the decision that says so.

    `signers` ({signer, meaning, evidence_sha256} per approving decision) makes evidence form 2;
    without it the statement is form 1 with `evidence_sha256` (kept to check old attestations)."""
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
    if signers is not None:
        evidence["annotations"].update(evidence_version=EVIDENCE_VERSION, signers=signers)
        evidence_sha256 = signers_digest(signers) if signers else None
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
