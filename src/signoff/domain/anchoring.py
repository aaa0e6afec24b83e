"""Checking the audit chain from outside: signed checkpoints, and state against the chain.

A hash chain alone proves little to someone who can write the database: deleting its last rows
leaves a valid chain, and so does editing a row and re-hashing everything after it. A signed
checkpoint (entry count and head hash at a time) kept elsewhere catches both: the chain must
still have that entry at that position with that hash. And the tables resolve reads must be
explained by the chain: each live pointer and each latest parameter value by the last live move
recorded for it, and a move made by approval by a recorded decision about the same digest.
Pure: the service feeds entries, checkpoints and table rows in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from signoff.domain.attestations import canonical_sha256
from signoff.domain.audit import GENESIS, AuditEntry, entry_hash

LIVE_MOVED = "live.moved"
# Entries written before live moves were anchored: they name the version and parameter version only.
_LEGACY_MOVES = {"version.approved": "live_version", "environment.rolled_back": "to_version"}


@dataclass
class Problem:
    check: str  # chain | checkpoint | live_versions | parameters | decision | signature
    message: str
    entry: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "message": self.message, "entry": self.entry}


@dataclass
class Walk:
    """What one pass over the chain learnt."""

    checked: int = 0
    first_broken: int | None = None
    reason: str = ""
    problems: list[Problem] = field(default_factory=list)
    moves: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    approvals: dict[int, dict[str, Any]] = field(default_factory=dict)
    checkpoints_checked: int = 0
    entries_by_id: dict[int, AuditEntry] = field(default_factory=dict)


def walk_chain(entries: Iterable[AuditEntry], checkpoints: list[dict[str, Any]], *,
               keep: set[str] | None = None) -> Walk:
    """One pass: the chain's links, each checkpoint's position and hash, and the recorded moves.

    `keep`: actions whose entries are kept in `entries_by_id` for later checks (signatures).
    """
    w = Walk()
    by_head: dict[int, list[dict[str, Any]]] = {}
    for cp in checkpoints:
        by_head.setdefault(int(cp["head_id"]) if cp.get("head_id") is not None else -1, []).append(cp)
    seen: set[int] = set()
    prev = GENESIS
    anchored: set[tuple[str, str]] = set()
    last_id = None
    for entry in entries:
        w.checked += 1
        last_id = entry.id
        if w.first_broken is None:
            if entry.prev_hash != prev:
                w.first_broken, w.reason = entry.id, "prev_hash does not match the previous entry's hash"
            elif entry_hash(prev, entry.body()) != entry.hash:
                w.first_broken, w.reason = entry.id, "content does not match its hash"
            if w.first_broken is not None:
                w.problems.append(Problem("chain", f"audit chain broken at entry {entry.id}: {w.reason}", entry.id))
        prev = entry.hash
        for cp in by_head.get(entry.id or 0, []):
            seen.add(id(cp))
            w.checkpoints_checked += 1
            if entry.hash != cp["head_hash"] or w.checked != int(cp["count"]):
                w.problems.append(Problem("checkpoint", (
                    f"entry {entry.id} is not the one the signed checkpoint of {cp['time']} recorded "
                    f"(position {w.checked} vs {cp['count']}, hash {entry.hash[:12]} vs {cp['head_hash'][:12]}): "
                    "the chain was rewritten before that checkpoint"), entry.id))
        if keep is not None and entry.action in keep and entry.id is not None:
            w.entries_by_id[entry.id] = entry
        _learn(w, entry, anchored)
    for cp in checkpoints:
        if id(cp) in seen:
            continue
        w.checkpoints_checked += 1
        if cp.get("head_id") is None and int(cp["count"]) == 0:
            continue
        w.problems.append(Problem("checkpoint", (
            f"the chain has {w.checked} entries (last {last_id}); the signed checkpoint of {cp['time']} covers "
            f"{cp['count']} entries up to entry {cp.get('head_id')}: entries were removed (truncated) or renumbered"),
            cp.get("head_id")))
    return w


def _learn(w: Walk, entry: AuditEntry, anchored: set[tuple[str, str]]) -> None:
    after = entry.after if isinstance(entry.after, dict) else {}
    if entry.action == LIVE_MOVED and entry.model:
        key = (entry.model, str(after.get("env")))
        anchored.add(key)
        move = {**after, "entry": entry.id}
        w.moves[key] = move
        if after.get("parameter"):
            w.parameters[str(after["parameter"])] = move
    elif entry.action in _LEGACY_MOVES and entry.model:
        key = (entry.model, str(after.get("env")))
        if key not in anchored:
            w.moves[key] = {"version": after.get(_LEGACY_MOVES[entry.action]),
                            "parameter_version": after.get("parameter_version"), "entry": entry.id, "legacy": True}
    if entry.action == "approval.approved" and after.get("request_id") is not None:
        w.approvals.setdefault(int(after["request_id"]), after)


def cross_check(w: Walk, live_pointers: list[dict[str, Any]], parameters: list[dict[str, Any]]) -> list[Problem]:
    """Every live pointer and latest parameter value against the chain's last recorded move."""
    problems: list[Problem] = []
    pointed = set()
    for p in live_pointers:
        key = (p["model"], p["env"])
        pointed.add(key)
        where = f"live_versions row {p['model']}/{p['env']}"
        move = w.moves.get(key)
        if move is None or move.get("version") is None:
            problems.append(Problem("live_versions", (
                f"{where} makes version {p['version']} live, but the audit chain records no decision, rollback or "
                "break-glass that did: the row was written outside signoff")))
            continue
        differs = [f for f in ("version", "parameter_version") if move.get(f) != p[f]]
        if not move.get("legacy") and move.get("digest") != p["digest"]:
            differs.append("digest")
        if differs:
            problems.append(Problem("live_versions", (
                f"{where} was edited: its {', '.join(differs)} ({', '.join(str(p[f]) for f in differs)}) differ from "
                f"the move recorded in audit entry {move['entry']} "
                f"({', '.join(str(move.get(f)) for f in differs)})"), move["entry"]))
            continue
        if move.get("change") == "approval":
            decided = w.approvals.get(int(move.get("request_id") or -1))
            if decided is None or decided.get("digest") != move.get("digest"):
                problems.append(Problem("decision", (
                    f"{where}: the approval that made version {p['version']} live (request {move.get('request_id')}) "
                    "is not recorded in the chain with the same artifact digest"), move["entry"]))
    for key, move in w.moves.items():
        if key not in pointed and move.get("version") is not None:
            problems.append(Problem("live_versions", (
                f"live_versions row {key[0]}/{key[1]} is missing: audit entry {move['entry']} made version "
                f"{move['version']} live there"), move["entry"]))
    for q in parameters:
        move = w.parameters.get(q["name"])
        if move is None:
            if not any(m.get("legacy") for m in w.moves.values()):
                problems.append(Problem("parameters", (
                    f"parameter {q['name']} version {q['version']} is not explained by any move in the audit chain")))
            continue
        if move.get("parameter_version") != q["version"]:
            problems.append(Problem("parameters", (
                f"parameter {q['name']} is at version {q['version']}, but the chain's last move (entry {move['entry']}) "
                f"wrote version {move.get('parameter_version')}: a version was added or removed outside signoff"),
                move["entry"]))
        elif move.get("value_sha256") != canonical_sha256(q["value"]):
            problems.append(Problem("parameters", (
                f"parameter {q['name']} version {q['version']} was edited: its value does not match the hash "
                f"recorded in audit entry {move['entry']}"), move["entry"]))
    return problems


SIGNED = "signature.signed"
DECIDED = ("approval.approved", "approval.rejected")


def check_signatures(w: Walk, rows: list[dict[str, Any]], trusted: list[Any]) -> list[Problem]:
    """Each stored signature: the server's signature over it holds, no signed field was edited,
    it sits on the request it signs, the chain recorded it, and the chain holds the decision it
    signs (same signer, request, model, version, environment and digest)."""
    import json

    from signoff.errors import VerificationFailed
    from signoff.sdk._attest import SIGNATURE_PAYLOAD_TYPE, open_envelope

    chained = {e.after.get("signature_id"): e for e in w.entries_by_id.values()
               if e.action == SIGNED and isinstance(e.after, dict)}
    decisions = {(e.after.get("request_id"), e.actor): e for e in w.entries_by_id.values()
                 if e.action in DECIDED and isinstance(e.after, dict)}
    problems: list[Problem] = []
    for row in rows:
        where = f"signature {row['id']} ({row['user']} on request {row['request_id']})"
        entry = chained.pop(row["id"], None)
        if entry is None:
            problems.append(Problem("signature", f"{where} is not recorded in the audit chain"))
        try:
            body, _ = open_envelope(row["envelope"], trusted, SIGNATURE_PAYLOAD_TYPE)
        except VerificationFailed as exc:
            problems.append(Problem("signature", f"{where}: the server's signature does not hold: {exc.message}",
                                    entry.id if entry else None))
            continue
        signed = json.loads(body)
        edited = sorted(k for k in set(signed) | set(row["record"]) if signed.get(k) != row["record"].get(k))
        if edited:
            problems.append(Problem("signature", f"{where}: signed field(s) {', '.join(edited)} were edited",
                                    entry.id if entry else None))
        if (row["request_id"], row["user"], row["meaning"]) != (signed["request_id"], signed["signer"]["user"],
                                                               signed["meaning"]):
            problems.append(Problem("signature", (
                f"{where} was moved or altered: it signs request {signed['request_id']} by {signed['signer']['user']} "
                f"meaning {signed['meaning']!r}"), entry.id if entry else None))
        if entry is not None and entry.after.get("record") != signed:
            problems.append(Problem("signature", f"{where} differs from the record in audit entry {entry.id}", entry.id))
        decision = decisions.get((signed["request_id"], signed["signer"]["user"]))
        subject = f"models/{signed['model']}/versions/{signed['version']}"
        if decision is None or decision.subject != subject or decision.after.get("env") != signed["env"] \
                or decision.after.get("digest") != signed["digest"]:
            problems.append(Problem("signature", (
                f"{where}: the chain holds no decision by {signed['signer']['user']} on request {signed['request_id']} "
                f"about {subject} in {signed['env']} with digest {signed['digest']}"), entry.id if entry else None))
    for signature_id, entry in chained.items():
        problems.append(Problem("signature", (
            f"signature {signature_id} recorded in audit entry {entry.id} is missing from the signatures table"),
            entry.id))
    return problems
