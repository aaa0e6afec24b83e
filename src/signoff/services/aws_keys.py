"""AWS access keys: create (the secret shown once), revoke, list, and look them up for SigV4.

A key acts as one signoff user with the scopes it was given, exactly like an API token: the
AWS doors (entrypoints/aws) check the same scopes and call the same services.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any, Protocol

from signoff.errors import InvalidInput
from signoff.services.ports import UnitOfWork
from signoff.services.representations import aws_key_to_dict
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
        row = uow.aws_keys.add(
            access_key_id=new_access_key_id(), secret_encrypted=sealer.seal(secret), user_id=owner.id,
            name=name[:128], scopes=clean, created_at=now, created_by=actor,
            expires_at=now + expires_in if expires_in else None,
        )
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
