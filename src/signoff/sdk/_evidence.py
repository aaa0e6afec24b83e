"""Offline check of an evidence pack's JSON form (`signoff verify --evidence`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from signoff.domain.attestations import evidence_hash
from signoff.errors import VerificationFailed
from signoff.sdk._attest import (
    ENVIRONMENT_SCOPE,
    IN_TOTO_PAYLOAD_TYPE,
    decision_evidence,
    SIGNATURE_PAYLOAD_TYPE,
    load_keyset,
    open_envelope,
    verify_checkpoint,
)


def verify_evidence(pack: dict[str, Any] | str | Path, *, keys: Any = None) -> dict[str, Any]:
    """Re-check a pack without a server: every attestation and signature against the keys (the
    pack's own set unless `keys` is given), each audit entry's hash, and the checkpoint that covers
    them. Returns counts; raises VerificationFailed naming the first thing that does not hold."""
    from signoff.domain.audit import AuditEntry, entry_hash

    if isinstance(pack, (str, Path)):
        try:
            pack = json.loads(Path(pack).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VerificationFailed(f"cannot read the evidence pack: {exc}") from None
    if not isinstance(pack, dict) or pack.get("format") != "signoff-evidence-pack/v1":
        raise VerificationFailed("not a signoff evidence pack (format signoff-evidence-pack/v1)")
    trusted = load_keyset(keys if keys is not None else pack["public_keys"])
    version = pack["version"]
    digest = str(version.get("digest") or "").removeprefix("sha256:")
    attested = []
    for a in pack.get("attestations", []):
        body, _ = open_envelope(a["envelope"], trusted, IN_TOTO_PAYLOAD_TYPE)
        statement = json.loads(body)
        subject = statement["subject"][0]
        if subject["digest"]["sha256"] != digest or statement["predicate"]["scopes"].get(ENVIRONMENT_SCOPE) != a["env"]:
            raise VerificationFailed(f"attestation {a['id']} is not about this version's digest in {a['env']}")
        attested.append((a["id"], decision_evidence(statement.get("predicate") or {})))
    signatures = 0
    for r in pack.get("requests", []):
        for s in r.get("signatures", []):
            body, _ = open_envelope(s["envelope"], trusted, SIGNATURE_PAYLOAD_TYPE)
            record = json.loads(body)
            shown = (s["meaning"], s["user"], s["signed_at"], s["request_id"])
            signed = (record["meaning"], record["signer"]["user"], record["signed_at"], record["request_id"])
            # The signer's own frozen evidence (decisions store what each decider was shown).
            seen = [d.get("evidence") for d in r.get("decisions", []) if d.get("actor") == record["signer"]["user"]]
            bound = {evidence_hash(e) for e in seen if e} or {r["evidence_sha256"]}
            if shown != signed or record["request_id"] != r["id"] or record["evidence_sha256"] not in bound:
                raise VerificationFailed(f"signature {s['id']} on request {r['id']} does not match what it signed")
            signatures += 1
    # After the signatures: a doctored signature is named as such, not as an attestation mismatch.
    for attestation_id, descriptors in attested:
        _check_attested_evidence(attestation_id, descriptors, pack)
    entries = pack["audit"]["entries"]
    for e in entries:
        entry = AuditEntry(e["id"], _time(e["at"]), e["actor"], e["action"], e["subject"], e["model"], e["before"],
                           e["after"], e["prev_hash"], e["hash"])
        if entry_hash(entry.prev_hash, entry.body()) != entry.hash:
            raise VerificationFailed(f"audit entry {e['id']} does not match its hash")
    _check_drift(pack, entries)
    checkpoint = pack["audit"].get("checkpoint")
    if entries:
        if checkpoint is None:
            raise VerificationFailed("no signed checkpoint covers the audit entries")
        head = verify_checkpoint(checkpoint, trusted)
        if (head.get("head_id") or 0) < entries[-1]["id"]:
            raise VerificationFailed("the checkpoint does not cover the last audit entry of the pack")
    return {"attestations": len(pack.get("attestations", [])), "signatures": signatures, "audit_entries": len(entries),
            "checkpoint": checkpoint is not None, "keys": "given" if keys is not None else "the pack's own"}


def _check_attested_evidence(attestation_id: Any, descriptors: list[dict[str, Any]], pack: dict[str, Any]) -> None:
    """Each signer an attestation names approved the request and was shown the evidence it hashes
    (form 2: the snapshot frozen with that signer's decision; form 1: the request's evidence)."""
    requests = {r.get("id"): r for r in pack.get("requests", [])}
    for descriptor in descriptors:
        notes = descriptor["annotations"]
        request = requests.get(notes.get("request_id"))
        if request is None:
            continue  # a move without a request (rollback, break-glass) binds no decision evidence
        where = f"attestation {attestation_id} (request {request.get('id')})"
        if notes.get("evidence_version", 1) == 1:
            digest = (descriptor.get("digest") or {}).get("sha256")
            if digest is not None and digest != request.get("evidence_sha256"):
                raise VerificationFailed(f"{where}: its evidence hash is not the hash of the request-level evidence")
            continue
        for entry in notes["signers"]:
            signer = entry["signer"]
            decided = [d for d in request.get("decisions", []) if d.get("actor") == signer
                       and d.get("decision") == "approve"]
            if not decided:
                raise VerificationFailed(f"{where} names {signer} as a signer, but {signer} did not approve it")
            frozen = decided[0].get("evidence")
            expected = evidence_hash(frozen) if frozen else request.get("evidence_sha256")
            if entry["evidence_sha256"] != expected:
                raise VerificationFailed(f"{where}: the evidence hash for {signer} is not the hash of the evidence "
                                         f"frozen with {signer}'s decision")
            meanings = {s.get("meaning") for s in request.get("signatures", []) if s.get("user") == signer}
            if meanings and entry.get("meaning") not in meanings:
                raise VerificationFailed(f"{where}: the meaning for {signer} is not the one {signer} signed")


def _check_drift(pack: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """The drift shown for each request and report is the assessment the chain recorded for that report."""
    recorded = {}
    for e in entries:
        raw = e.get("after")
        after: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if e.get("action") == "inference.reported" and isinstance(after.get("drift"), dict):
            recorded[after.get("id")] = after["drift"]
    shown = [(f"request {r.get('id')}", r.get("drift")) for r in pack.get("requests", [])]
    shown += [(f"inference report {r.get('id')}", r.get("drift")) for r in pack.get("inference_reports", [])]
    for where, drift in shown:
        if drift is None:
            continue
        if not isinstance(drift, dict) or drift.get("report_id") not in recorded:
            raise VerificationFailed(f"the drift shown for {where} has no inference report recorded in the audit entries")
        claimed = {k: v for k, v in drift.items() if k not in ("report_id", "env")}
        if claimed != recorded[drift["report_id"]]:
            raise VerificationFailed(f"the drift shown for {where} differs from the assessment recorded in the "
                                     f"audit entry of inference report {drift['report_id']}")


def _time(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)
