"""The audit log's hash chain.

Each entry's hash covers the previous entry's hash and the entry's own canonical JSON, so
editing, deleting or reordering any row breaks every hash after it. Pure: the repository
stores entries, this module decides what their hashes must be.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from signoff.domain.events import canonical_json

GENESIS = "0" * 64


@dataclass
class AuditEntry:
    id: int | None
    at: datetime
    actor: str
    action: str
    subject: str
    model: str | None
    before: Any
    after: Any
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "model": self.model,
            "before": self.before,
            "after": self.after,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, **self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


def entry_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode("utf-8")).hexdigest()


def seal(entry: AuditEntry, prev_hash: str) -> AuditEntry:
    entry.prev_hash = prev_hash
    entry.hash = entry_hash(prev_hash, entry.body())
    return entry


@dataclass
class ChainReport:
    ok: bool
    checked: int
    first_broken: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_broken": self.first_broken, "reason": self.reason}


def verify_chain(entries: Iterable[AuditEntry]) -> ChainReport:
    """Walk entries in id order; name the first whose link or content does not hold."""
    prev = GENESIS
    count = 0
    for entry in entries:
        count += 1
        if entry.prev_hash != prev:
            return ChainReport(False, count, entry.id, "prev_hash does not match the previous entry's hash")
        if entry_hash(prev, entry.body()) != entry.hash:
            return ChainReport(False, count, entry.id, "content does not match its hash")
        prev = entry.hash
    return ChainReport(True, count)
