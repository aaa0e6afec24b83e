"""Credential checks on the hot path: bearer tokens and AWS access keys, cached per process.

They read with their own short connections, outside any unit of work: a request is
authenticated before its use case begins.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, select, update

from signoff.adapters.db.tables import AwsKeyRow, TokenRow, UserRow
from signoff.errors import AuthenticationFailed
from signoff.services.aws_keys import Sealer
from signoff.services.ports import Clock
from signoff.domain.identity import Principal
from signoff.services.tokens import hash_token


@dataclass(frozen=True)
class _TokenEntry:
    principal: Principal | None
    reason: str
    expires_at: datetime | None


class TokenVerifier:
    """Bearer token → Principal, cached per process for `ttl` seconds.

    The cache keeps authentication off the database on the hot path (resolve); a revocation or
    a disabled user is therefore seen within `ttl` seconds, while expiry is checked on every call.
    """

    def __init__(self, engine: Engine, clock: Clock, *, ttl: float = 5.0, touch_every: float = 60.0,
                 max_entries: int = 10_000) -> None:
        self.engine, self.clock, self.ttl = engine, clock, ttl
        self.touch_every = timedelta(seconds=touch_every)
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, _TokenEntry]] = {}
        t, u = TokenRow.__table__.c, UserRow.__table__.c
        self._select = (
            select(t.id, t.scopes, t.expires_at, t.revoked_at, t.last_used_at, u.name, u.disabled)
            .join_from(TokenRow.__table__, UserRow.__table__, t.user_id == u.id)
            .where(t.token_hash == bindparam("h"))
        )
        self._touch = update(TokenRow.__table__).where(t.id == bindparam("i")).values(last_used_at=bindparam("at"))

    def verify(self, token: str) -> Principal:
        """The principal behind `token`; raises AuthenticationFailed."""
        digest = hash_token(token)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is None or hit[0] <= now:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            hit = (now + self.ttl, self._load(digest))
            self._cache[digest] = hit
        entry = hit[1]
        if entry.principal is None:
            raise AuthenticationFailed(entry.reason)
        if entry.expires_at is not None and self.clock.now() >= entry.expires_at:
            raise AuthenticationFailed("token expired")
        return entry.principal

    def forget(self) -> None:
        """Drop every cached verdict (after a revocation in this process)."""
        self._cache.clear()

    def _load(self, digest: str) -> _TokenEntry:
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            row = conn.execute(self._select, {"h": digest}).first()
        if row is None:
            return _TokenEntry(None, "invalid token", None)
        if row.revoked_at is not None:
            return _TokenEntry(None, "token revoked", None)
        if row.disabled:
            return _TokenEntry(None, f"user {row.name!r} is disabled", None)
        self._maybe_touch(row.id, row.last_used_at)
        return _TokenEntry(Principal(row.name, frozenset(row.scopes or []), "token", row.id), "", row.expires_at)

    def _maybe_touch(self, token_id: int, last_used: datetime | None) -> None:
        # At most one write per token per `touch_every`: last_used is a hint, not an access log.
        now = self.clock.now()
        if last_used is not None and now - last_used < self.touch_every:
            return
        with self.engine.begin() as conn:
            conn.execute(self._touch, {"i": token_id, "at": now})


@dataclass(frozen=True)
class AwsIdentity:
    principal: Principal
    secret: str


@dataclass(frozen=True)
class _KeyEntry:
    identity: AwsIdentity | None
    reason: str
    expires_at: datetime | None


class KeyRefused(Exception):
    """The access key id names no usable key (unknown, revoked, expired, its user disabled)."""


class AwsKeyVerifier:
    """Access key id → (Principal, secret), cached per process for `ttl` seconds, as TokenVerifier."""

    def __init__(self, engine: Engine, clock: Clock, sealer: Sealer, *, ttl: float = 5.0,
                 touch_every: float = 60.0, max_entries: int = 10_000) -> None:
        self.engine, self.clock, self.sealer, self.ttl = engine, clock, sealer, ttl
        self.touch_every = timedelta(seconds=touch_every)
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, _KeyEntry]] = {}
        k, u = AwsKeyRow.__table__.c, UserRow.__table__.c
        self._select = (
            select(k.id, k.secret_encrypted, k.scopes, k.expires_at, k.revoked_at, k.last_used_at, u.name, u.disabled)
            .join_from(AwsKeyRow.__table__, UserRow.__table__, k.user_id == u.id)
            .where(k.access_key_id == bindparam("a"))
        )
        self._touch = update(AwsKeyRow).where(AwsKeyRow.id == bindparam("i")).values(last_used_at=bindparam("at"))

    def lookup(self, access_key_id: str) -> AwsIdentity:
        """The identity behind `access_key_id`; raises KeyRefused."""
        now = time.monotonic()
        hit = self._cache.get(access_key_id)
        if hit is None or hit[0] <= now:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            hit = (now + self.ttl, self._load(access_key_id))
            self._cache[access_key_id] = hit
        entry = hit[1]
        if entry.identity is None:
            raise KeyRefused(entry.reason)
        if entry.expires_at is not None and self.clock.now() >= entry.expires_at:
            raise KeyRefused("key expired")
        return entry.identity

    def forget(self) -> None:
        self._cache.clear()

    def _load(self, access_key_id: str) -> _KeyEntry:
        if len(access_key_id) > 32:
            return _KeyEntry(None, "unknown key", None)
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            row = conn.execute(self._select, {"a": access_key_id}).first()
        if row is None:
            return _KeyEntry(None, "unknown key", None)
        if row.revoked_at is not None:
            return _KeyEntry(None, "key revoked", None)
        if row.disabled:
            return _KeyEntry(None, f"user {row.name!r} is disabled", None)
        secret = self.sealer.open(row.secret_encrypted)
        if secret is None:
            return _KeyEntry(None, "key sealed under another [server] secret_key", None)
        self._maybe_touch(row.id, row.last_used_at)
        principal = Principal(row.name, frozenset(row.scopes or []), "aws-key", None)
        return _KeyEntry(AwsIdentity(principal, secret), "", row.expires_at)

    def _maybe_touch(self, key_id: int, last_used: datetime | None) -> None:
        now = self.clock.now()
        if last_used is not None and now - last_used < self.touch_every:
            return
        with self.engine.begin() as conn:
            conn.execute(self._touch, {"i": key_id, "at": now})
