"""What a statement's result says that `Session.execute`'s declared type does not."""

from __future__ import annotations

from sqlalchemy.engine import CursorResult


def rowcount(result: object) -> int:
    """The rows an UPDATE or DELETE matched. `Session.execute` declares a plain `Result` for every
    statement; a DML statement's is a `CursorResult`, the class that carries the count."""
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0
