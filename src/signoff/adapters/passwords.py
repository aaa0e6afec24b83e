"""Password hashing with argon2id.

Parameters are OWASP's recommended minimum (m=19 MiB, t=2, p=1) rather than argon2-cffi's
RFC 9106 default (64 MiB, p=4): on a 2-core server the default costs ~0.5 s per sign-in and
lets a handful of concurrent sign-ins starve the API. Hashes record their parameters, so
existing hashes keep verifying if these change.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check; a user without a password never verifies."""
    if not password_hash:
        # Hash anyway so a missing account costs the same time as a wrong password.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
