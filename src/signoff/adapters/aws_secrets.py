"""Encryption at rest for AWS secret access keys.

SigV4 signatures are HMACs keyed by (a key derived from) the secret, so verifying one needs the
secret itself: unlike API tokens it cannot be stored as a hash. It is sealed with Fernet
(AES-128-CBC + HMAC-SHA256) under a key derived by HKDF from `[server] secret_key`, so a copy
of the database alone does not yield usable credentials. Changing `secret_key` makes every
stored secret unreadable: those keys stop working and must be issued again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"signoff/aws-secret-access-keys/v1"


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"signoff", info=_INFO).derive(
            secret_key.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The plain secret, or None when it was sealed under another `secret_key` (or tampered with)."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            return None
