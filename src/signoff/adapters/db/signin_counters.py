"""A `limits` storage kept in the `signin_counters` table, on SQLite and PostgreSQL alike.

The `limits` library ships in-memory, Redis, Memcached and MongoDB storages; in-memory counters
would let N server processes allow N times the limit, and signoff needs no other server than its
database. Each increment is one atomic upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`),
so processes racing on one key never lose a count. Only the fixed-window strategy is supported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import count
from typing import Any

from limits.storage import Storage
from sqlalchemy import Engine, case, delete, select
from sqlalchemy.exc import SQLAlchemyError

from signoff.adapters.db.tables import SigninCounterRow

T = SigninCounterRow.__table__.c
# Expired rows of keys never seen again (an attacker's many addresses) are swept this often.
PURGE_EVERY = 200


class SqlCounterStorage(Storage):
    STORAGE_SCHEME = None  # built directly, never from a `limits` storage URI

    def __init__(self, engine: Engine, *, now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.engine = engine
        self.now = now
        self._calls = count(1)
        self._insert: Any  # either dialect's insert: both have on_conflict_do_update
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self._insert = pg_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            self._insert = sqlite_insert

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.now()
        stmt = self._insert(SigninCounterRow.__table__).values(key=key, count=amount, expires_at=now + expiry)
        expired = T.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.key],
            set_={"count": case((expired, amount), else_=T.count + amount),
                  "expires_at": case((expired, now + expiry), else_=T.expires_at)},
        ).returning(T.count)
        with self.engine.begin() as conn:
            value = int(conn.execute(stmt).scalar_one())
            if next(self._calls) % PURGE_EVERY == 0:
                conn.execute(delete(SigninCounterRow.__table__).where(T.expires_at <= now))
        return value

    def _row(self, key: str) -> tuple[int, float] | None:
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            row = conn.execute(select(T.count, T.expires_at).where(T.key == key)).first()
        if row is None:
            return None
        count, expires_at = row  # to the type checker `row.count` is Sequence.count
        if expires_at <= self.now():
            return None
        return int(count), float(expires_at)

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else self.now()

    def check(self) -> bool:
        try:
            with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
                conn.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return int(conn.execute(delete(SigninCounterRow.__table__)).rowcount or 0)

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(SigninCounterRow.__table__).where(T.key == key))
