"""Signed checkpoints of the audit chain, and the full verification behind `signoff audit verify`."""

from __future__ import annotations

from typing import Any

from signoff.domain import events
from signoff.domain.anchoring import (
    DECIDED,
    SIGNED,
    Problem,
    check_signatures,
    cross_check,
    walk_chain,
)
from signoff.domain.attestations import rfc3339
from signoff.domain.events import canonical_json
from signoff.domain.signature_gaps import requires_signature, unsigned_in_chain
from signoff.errors import VerificationFailed
from signoff.sdk._attest import CHECKPOINT_PAYLOAD_TYPE, PublicKey, verify_checkpoint
from signoff.services.ports import UnitOfWork

AUDIT_CHECKPOINT = "signoff.audit.checkpoint"
AUDIT_VERIFICATION_FAILED = "signoff.audit.verification_failed"


def create_checkpoint(*, uow: UnitOfWork, keys: Any) -> dict[str, Any]:
    """Sign the chain's head (entry count, last id and hash, time) and keep it; returns the envelope.

    The checkpoint is also an event, so a rule can send every one to a webhook or file target.
    """
    with uow:
        count, head_id, head_hash = uow.checkpoints.head()
        now = uow.clock.now()
        payload = {"type": "signoff-audit-checkpoint", "count": count, "head_id": head_id,
                   "head_hash": head_hash, "time": rfc3339(now)}
        envelope: dict[str, Any] = keys.envelope(CHECKPOINT_PAYLOAD_TYPE, canonical_json(payload).encode("utf-8"))
        uow.checkpoints.add(at=now, count=count, head_id=head_id, head_hash=head_hash,
                            keyid=envelope["signatures"][0]["keyid"], envelope=envelope)
        uow.emit(events.Event(AUDIT_CHECKPOINT, "audit", {**payload, "envelope": envelope}))
        uow.commit()
    return envelope


def verify_audit(*, uow: UnitOfWork, keys: Any, checkpoints: list[dict[str, Any]] | None = None,
                 trusted: list[PublicKey] | None = None, by: str = "signoff", notify: bool = False,
                 workflow: Any = None) -> dict[str, Any]:
    """The chain's links, every checkpoint (stored and given), and the tables against the chain.

    Returns {ok, checked, first_broken, reason, problems, warnings, checkpoints}; the result is
    kept for `/metrics`, and with `notify` a failure emits `signoff.audit.verification_failed`.
    With `workflow`, unsigned decisions in environments that now require signatures are warnings.
    """
    keyset = trusted if trusted is not None else (keys.public_keys() if keys is not None else [])
    with uow:
        problems: list[Problem] = []
        valid = []
        for envelope in uow.checkpoints.envelopes() + list(checkpoints or []):
            try:
                valid.append(verify_checkpoint(envelope, keyset))
            except VerificationFailed as exc:
                problems.append(Problem("checkpoint", f"a checkpoint was refused: {exc.message}"))
        walk = walk_chain(uow.audit.iter_all(), valid, keep={SIGNED, *DECIDED})
        problems = walk.problems + problems
        problems += cross_check(walk, uow.state.live_pointers(), uow.state.latest_parameters())
        problems += check_signatures(walk, uow.signatures.all(), keyset)
        warnings = unsigned_in_chain(walk.entries_by_id.values(), requires_signature(workflow)) if workflow else []
        report: dict[str, Any] = {
            "ok": not problems, "checked": walk.checked, "first_broken": walk.first_broken,
            "reason": walk.reason or (problems[0].message if problems else ""),
            "problems": [p.to_dict() for p in problems], "warnings": [w.to_dict() for w in warnings],
            "checkpoints": walk.checkpoints_checked,
        }
        uow.verifications.add(at=uow.clock.now(), ok=report["ok"], checked=walk.checked,
                              problems=report["problems"], by=by)
        if notify and problems:
            uow.emit(events.Event(AUDIT_VERIFICATION_FAILED, "audit", {
                "checked": walk.checked, "first_broken": walk.first_broken, "problems": report["problems"][:50]}))
        uow.commit()
    return report


def last_verification(*, uow: UnitOfWork) -> dict[str, Any] | None:
    """The most recent verification result, or None."""
    with uow:
        return uow.verifications.latest()


def last_checkpoint_at(*, uow: UnitOfWork) -> Any:
    with uow:
        return uow.checkpoints.latest_at()
