"""API tokens: create (shown once), revoke, list, and verify them on every request.

Tokens are 256 random bits, so a plain SHA-256 is a safe way to store them (a slow password
hash buys nothing against a search space that large) and lets the lookup be one keyed read.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, select, update

from signoff.adapters.db.tables import TokenRow, UserRow
from signoff.adapters.db.tokens import token_to_dict
from signoff.domain.identity import SCOPES, Principal
from signoff.errors import AuthenticationFailed, InvalidInput
from signoff.services.ports import Clock, UnitOfWork

TOKEN_PREFIX = "so_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}",
                           details={"field": "scopes", "unknown": unknown})
    return [s for s in SCOPES if s in scopes]


def create_token(
    *, uow: UnitOfWork, user: str, scopes: list[str], actor: str, expires_in: timedelta | None = None,
    name: str = "",
) -> tuple[str, dict[str, Any]]:
    """Create a token for `user`; returns (the token, shown only now, its record). Raises NotFound, InvalidInput."""
    clean = check_scopes(list(scopes))
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput("a token's expiry must be in the future", details={"field": "expires"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with uow:
        owner = uow.users.row(user)
        now = uow.clock.now()
        row = uow.tokens.add(TokenRow(
            token_hash=hash_token(token), prefix=token[:10], user_id=owner.id, name=name[:128], scopes=clean,
            created_at=now, created_by=actor, expires_at=now + expires_in if expires_in else None,
            revoked_at=None, last_used_at=None,
        ))
        out = token_to_dict(row, user)
        uow.record(actor=actor, action="token.created", subject=f"users/{user}/tokens/{row.id}", model=None,
                   after={k: out[k] for k in ("id", "user", "name", "prefix", "scopes", "expires_at")})
        uow.commit()
    return token, out


def revoke_token(*, uow: UnitOfWork, token_id: int, actor: str) -> dict[str, Any]:
    """Revoke a token (idempotent); raises NotFound."""
    with uow:
        row = uow.tokens.row(token_id)
        user = uow.session.get(UserRow, row.user_id).name  # type: ignore[attr-defined]
        if row.revoked_at is None:
            row.revoked_at = uow.clock.now()
            uow.record(actor=actor, action="token.revoked", subject=f"users/{user}/tokens/{row.id}", model=None,
                       after={"id": row.id, "user": user, "prefix": row.prefix})
        out = token_to_dict(row, user)
        uow.commit()
    return out


def list_tokens(*, uow: UnitOfWork, user: str | None = None) -> list[dict[str, Any]]:
    """Tokens (never their secret), oldest first."""
    with uow:
        return [token_to_dict(row, name) for row, name in uow.tokens.list(user=user)]


@dataclass(frozen=True)
class _Entry:
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
        self._cache: dict[str, tuple[float, _Entry]] = {}
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

    def _load(self, digest: str) -> _Entry:
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            row = conn.execute(self._select, {"h": digest}).first()
        if row is None:
            return _Entry(None, "invalid token", None)
        if row.revoked_at is not None:
            return _Entry(None, "token revoked", None)
        if row.disabled:
            return _Entry(None, f"user {row.name!r} is disabled", None)
        self._maybe_touch(row.id, row.last_used_at)
        return _Entry(Principal(row.name, frozenset(row.scopes or []), "token", row.id), "", row.expires_at)

    def _maybe_touch(self, token_id: int, last_used: datetime | None) -> None:
        # At most one write per token per `touch_every`: last_used is a hint, not an access log.
        now = self.clock.now()
        if last_used is not None and now - last_used < self.touch_every:
            return
        with self.engine.begin() as conn:
            conn.execute(self._touch, {"i": token_id, "at": now})
