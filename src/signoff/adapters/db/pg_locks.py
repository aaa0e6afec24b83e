"""Transaction-scoped advisory locks: how processes sharing one PostgreSQL database queue for
the few things that must happen one at a time (docs/deployment.md, "What PostgreSQL serialises").

Each lock is held until the transaction ends. SQLite needs none: its writers are serialised by
BEGIN IMMEDIATE and the writer gate (engine.py), so `hold` does nothing there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# Any constants work; they only have to be the same in every process.
AUDIT_CHAIN = 0x5160FF  # one lock: appends to the audit chain
LIVE_POINTERS = 5316  # one lock per (model, env): moves of a live pointer
STARTUP_SYNC = 5317  # "users", "rules": the sync of configured users and rules at start-up
RETENTION = 5318  # one lock: a batch of `signoff prune` (workers prune on a schedule)
TALLY_COMPACTION = 5319  # taken only if free, by the triggers folding delivery_tallies (migration 0016)

_ONE = text("SELECT pg_advisory_xact_lock(:k)")
_KEYED = text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))")


def hold(session: Session, space: int, key: str | None = None) -> None:
    """Take lock `space` (or, with `key`, the lock for `key` within it) in the session's transaction."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if key is None:
        session.execute(_ONE, {"k": space})
    else:
        session.execute(_KEYED, {"space": space, "key": key})
