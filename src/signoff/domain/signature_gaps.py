"""Decisions without an electronic signature where the environment now requires one.

Once an environment's policy says `signature = "reauth"` (or `[signing] part11 = true` makes it
the default), no unsigned decision can be made there: the service refuses it. An unsigned
decision found there was therefore made before signatures were required (the policy changed
later, or the decision predates signing altogether). It stays a valid record of its time, so it
is a warning, never a broken chain; but every rendering says plainly that it is not a signature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from signoff.domain.anchoring import DECIDED, SIGNED, Problem
from signoff.domain.audit import AuditEntry

UNSIGNED = "unsigned (made before signatures were required)"


def requires_signature(workflow: Any) -> Callable[[str], bool]:
    """Whether an environment's current policy makes decisions electronic signatures."""
    def check(env: str) -> bool:
        return env in workflow.order and workflow.policy(env).signature == "reauth"
    return check


def unsigned_in_chain(entries: Iterable[AuditEntry], required: Callable[[str], bool]) -> list[Problem]:
    """A warning for each decision in the chain that has no signature although its environment requires one."""
    entries = list(entries)
    signed = set()
    for e in entries:
        record = e.after.get("record") if e.action == SIGNED and isinstance(e.after, dict) else None
        if isinstance(record, dict):
            signed.add((record.get("request_id"), (record.get("signer") or {}).get("user")))
    out = []
    for e in entries:
        after = e.after if isinstance(e.after, dict) else {}
        if e.action not in DECIDED or not required(str(after.get("env"))):
            continue
        if (after.get("request_id"), e.actor) not in signed:
            out.append(Problem("signature", (
                f"decision by {e.actor} ({after.get('decision', e.action.split('.')[-1])}) on request "
                f"{after.get('request_id')} about {e.subject} in {after.get('env')} is {UNSIGNED}"), e.id))
    return out


def mark_unsigned(requests: list[dict[str, Any]], required: Callable[[str], bool]) -> list[dict[str, Any]]:
    """Each decision dict gets `signature_status` = UNSIGNED where its request's environment requires
    signatures and the decider has none on that request (requests carry `signatures`)."""
    for r in requests:
        if not required(str(r.get("env"))):
            continue
        signers = {s.get("user") for s in r.get("signatures", [])}
        for d in r.get("decisions", []):
            if d.get("actor") not in signers:
                d["signature_status"] = UNSIGNED
    return requests
