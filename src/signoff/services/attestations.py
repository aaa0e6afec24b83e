"""Signed records of live moves: the deployment attestation and the chain entry that anchors it.

`record_move` runs inside the transaction that moves a live pointer (services/live.py), so the
attestation, the `live.moved` audit entry and the move commit together or not at all. The audit
entry carries what `audit verify` later compares the tables with: the version and digest made
live, the parameter version and the hash of its value, and the hash of the attestation.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from signoff.domain.attestations import canonical_sha256, deployment_statement, evidence_hash
from signoff.domain.events import canonical_json
from signoff.domain.workflow import Workflow
from signoff.errors import NotFound
from signoff.sdk._attest import IN_TOTO_PAYLOAD_TYPE
from signoff.services.ports import Signer, UnitOfWork
from signoff.services.records import ModelRecord, VersionRecord

LIVE_MOVED = "live.moved"


def record_move(
    uow: UnitOfWork,
    workflow: Workflow | None,
    model_row: ModelRecord,
    version_row: VersionRecord | None,
    env: str,
    *,
    parameter: str,
    parameter_version: int,
    value: dict[str, Any],
    kind: str,
    request_id: int | None,
    approvers: list[str],
    actor: str,
) -> None:
    """Attest a version made live (when its digest is known) and anchor the move in the chain."""
    attestation = None
    if workflow and version_row is not None and version_row.digest and uow.signer is not None:
        attestation = _attest(uow, uow.signer, workflow, model_row, version_row, env, parameter=parameter,
                              parameter_version=parameter_version, kind=kind, request_id=request_id,
                              approvers=approvers)
    uow.record(actor=actor, action=LIVE_MOVED, subject=f"models/{model_row.name}/environments/{env}",
               model=model_row.name, after={
                   "env": env, "version": version_row.number if version_row else None,
                   "digest": version_row.digest if version_row else None, "change": kind,
                   "request_id": request_id, "parameter": parameter, "parameter_version": parameter_version,
                   # Hashed as stored: the value after its JSON round trip through the database.
                   "value_sha256": canonical_sha256(json.loads(canonical_json(value))),
                   "attestation_sha256": attestation[0] if attestation else None,
                   "keyid": attestation[1] if attestation else None,
               })


def _attest(
    uow: UnitOfWork, signer: Signer, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord, env: str, *,
    parameter: str, parameter_version: int, kind: str, request_id: int | None, approvers: list[str],
) -> tuple[str, str]:
    now = uow.clock.now()
    evidence: list[dict[str, Any]] = []
    signers: list[dict[str, Any]] = [{"user": a} for a in approvers]
    if request_id is not None:
        row = uow.requests.row(request_id)
        # Electronic signatures of this request: each approver with the meaning they signed.
        signed = {s["user"]: s for s in uow.signatures.for_requests([request_id])[request_id]
                  if s["record"]["decision"] == "approve"}
        for entry in signers:
            if entry["user"] in signed:
                record = signed[entry["user"]]["record"]
                entry.update(meaning=record["meaning"], signed_at=record["signed_at"],
                             full_name=record["signer"]["full_name"])
        evidence = signer_evidence(uow, workflow, model_row, version_row, row, signed)
    statement = deployment_statement(
        model=model_row.name, version=version_row.number, artifact_uri=version_row.artifact_uri,
        digest=version_row.digest or "", env=env, created_at=now, change=kind, request_id=request_id,
        parameter=parameter, parameter_version=parameter_version, approvers=signers,
        policy=workflow.policy(env).to_dict(), signers=evidence,
    )
    body = canonical_json(statement).encode("utf-8")
    envelope = signer.envelope(IN_TOTO_PAYLOAD_TYPE, body)
    payload_sha256 = hashlib.sha256(body).hexdigest()
    keyid = envelope["signatures"][0]["keyid"]
    uow.attestations.add(
        model_id=model_row.id, version_id=version_row.id, env=env, kind=kind, digest=version_row.digest or "",
        request_id=request_id, parameter_version=parameter_version, keyid=keyid, payload_sha256=payload_sha256,
        envelope=envelope, at=now)
    return payload_sha256, keyid


def signer_evidence(uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord, row: Any,
                    signed: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per approving decision: the signer, the meaning signed (None when unsigned) and the hash of
    the evidence frozen with that decision (the request's evidence for decisions that froze none,
    as their signatures did)."""
    request = uow.requests.to_entity(row, model_row.name, version_row.number, workflow.policy(row.env))
    fallback = None
    out = []
    for d in request.decisions:
        if d.verdict.value != "approve":
            continue
        if d.evidence is None and fallback is None:
            fallback = evidence_hash(request_evidence(row))
        record = signed.get(d.actor, {}).get("record") or {}
        out.append({"signer": d.actor, "meaning": record.get("meaning"),
                    "evidence_sha256": evidence_hash(d.evidence) if d.evidence is not None else fallback})
    return out


def request_evidence(row: Any) -> dict[str, Any]:
    """The evidence a request's deciders saw, as one dict (its hash goes into signatures and
    attestations): metrics, gate results and the artifact digest the request was opened for."""
    return {"metrics": row.evidence, "gate_results": row.gate_results, "digest": row.digest}


def list_attestations(*, uow: UnitOfWork, workflow: Workflow, model: str, version: int,
                      env: str | None = None) -> list[dict[str, Any]]:
    """The attestations of a version, newest first (optionally one environment's); raises NotFound."""
    if env:
        workflow.check_env(env)
    with uow:
        model_row = uow.models.row(model)
        version_row = uow.versions.row(model_row, version)
        return uow.attestations.list(version_row.id, env)


def latest_attestation(*, uow: UnitOfWork, workflow: Workflow, model: str, version: int, env: str) -> dict[str, Any]:
    """The newest attestation of (model, version, env); raises NotFound when there is none."""
    found = list_attestations(uow=uow, workflow=workflow, model=model, version=version, env=env)
    if not found:
        raise NotFound(f"no attestation for version {version} of {model!r} in {env} (it was never live there, "
                       "or its artifact digest is unknown)", details={"model": model, "version": version, "env": env})
    return found[0]
