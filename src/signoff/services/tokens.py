"""API tokens: create (shown once), revoke, list, and verify them on every request.

Tokens are 256 random bits, so a plain SHA-256 is a safe way to store them (a slow password
hash buys nothing against a search space that large) and lets the lookup be one keyed read.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from signoff.domain.identity import ANONYMOUS, SCOPES, Principal  # noqa: F401  (re-exported: their home before)
from signoff.errors import InvalidInput
from signoff.services.ports import UnitOfWork
from signoff.services.representations import token_to_dict

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
        row = uow.tokens.add(
            token_hash=hash_token(token), prefix=token[:10], user_id=owner.id, name=name[:128], scopes=clean,
            created_at=now, created_by=actor, expires_at=now + expires_in if expires_in else None,
        )
        out = token_to_dict(row, user)
        uow.record(actor=actor, action="token.created", subject=f"users/{user}/tokens/{row.id}", model=None,
                   after={k: out[k] for k in ("id", "user", "name", "prefix", "scopes", "expires_at")})
        uow.commit()
    return token, out


def revoke_token(*, uow: UnitOfWork, token_id: int, actor: str) -> dict[str, Any]:
    """Revoke a token (idempotent); raises NotFound."""
    with uow:
        row = uow.tokens.row(token_id)
        user = uow.users.by_id(row.user_id).name
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
