"""AWS access keys: create (the secret shown once), revoke, list, and look them up for SigV4.

A key acts as one signoff user with the scopes it was given, exactly like an API token: the
AWS doors (entrypoints/aws) check the same scopes and call the same services.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, select, update

from signoff.adapters.db.aws_keys import aws_key_to_dict
from signoff.adapters.db.tables import AwsKeyRow, UserRow
from signoff.domain.identity import Principal
from signoff.errors import InvalidInput
from signoff.services.ports import Clock, UnitOfWork
from signoff.services.tokens import check_scopes

# What a pipeline's key needs, and an approver's: whether a decision is allowed is still the
# environment's policy and the user's groups at that moment.
DEFAULT_SCOPES = ("register", "resolve", "report", "decide")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Sealer(Protocol):
    def seal(self, plain: str) -> str: ...

    def open(self, sealed: str) -> str | None: ...


def new_access_key_id() -> str:
    # AWS's shape (AKIA + 16 of A-Z2-7): tools and secret scanners recognise it as a credential.
    return "AKIA" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode("ascii")  # 40 characters, like AWS's


def create_key(
    *, uow: UnitOfWork, sealer: Sealer, user: str, actor: str, scopes: list[str] | None = None,
    expires_in: timedelta | None = None, name: str = "",
) -> tuple[str, dict[str, Any]]:
    """Issue a key pair for `user`; returns (secret, shown only now; the key's record). Raises NotFound, InvalidInput."""
    clean = check_scopes(list(scopes) if scopes else list(DEFAULT_SCOPES))
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput("a key's expiry must be in the future", details={"field": "expires"})
    secret = new_secret()
    with uow:
        owner = uow.users.row(user)
        now = uow.clock.now()
        row = uow.aws_keys.add(AwsKeyRow(
            access_key_id=new_access_key_id(), secret_encrypted=sealer.seal(secret), user_id=owner.id,
            name=name[:128], scopes=clean, created_at=now, created_by=actor,
            expires_at=now + expires_in if expires_in else None, revoked_at=None, last_used_at=None,
        ))
        out = aws_key_to_dict(row, user)
        uow.record(actor=actor, action="aws_key.created", subject=f"users/{user}/aws-keys/{row.access_key_id}",
                   model=None, after={k: out[k] for k in ("id", "access_key_id", "user", "name", "scopes", "expires_at")})
        uow.commit()
    return secret, out


def revoke_key(*, uow: UnitOfWork, key: int | str, actor: str) -> dict[str, Any]:
    """Revoke a key by id or access key id (idempotent); raises NotFound."""
    with uow:
        row, user = uow.aws_keys.row(key)
        if row.revoked_at is None:
            row.revoked_at = uow.clock.now()
            uow.record(actor=actor, action="aws_key.revoked", subject=f"users/{user}/aws-keys/{row.access_key_id}",
                       model=None, after={"id": row.id, "access_key_id": row.access_key_id, "user": user})
        out = aws_key_to_dict(row, user)
        uow.commit()
    return out


def list_keys(*, uow: UnitOfWork, user: str | None = None) -> list[dict[str, Any]]:
    """Keys (never their secret), oldest first."""
    with uow:
        return [aws_key_to_dict(row, name) for row, name in uow.aws_keys.list(user=user)]


@dataclass(frozen=True)
class AwsIdentity:
    principal: Principal
    secret: str


@dataclass(frozen=True)
class _Entry:
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
        self._cache: dict[str, tuple[float, _Entry]] = {}
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

    def _load(self, access_key_id: str) -> _Entry:
        if len(access_key_id) > 32:
            return _Entry(None, "unknown key", None)
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            row = conn.execute(self._select, {"a": access_key_id}).first()
        if row is None:
            return _Entry(None, "unknown key", None)
        if row.revoked_at is not None:
            return _Entry(None, "key revoked", None)
        if row.disabled:
            return _Entry(None, f"user {row.name!r} is disabled", None)
        secret = self.sealer.open(row.secret_encrypted)
        if secret is None:
            return _Entry(None, "key sealed under another [server] secret_key", None)
        self._maybe_touch(row.id, row.last_used_at)
        principal = Principal(row.name, frozenset(row.scopes or []), "aws-key", None)
        return _Entry(AwsIdentity(principal, secret), "", row.expires_at)

    def _maybe_touch(self, key_id: int, last_used: datetime | None) -> None:
        now = self.clock.now()
        if last_used is not None and now - last_used < self.touch_every:
            return
        with self.engine.begin() as conn:
            conn.execute(self._touch, {"i": key_id, "at": now})
