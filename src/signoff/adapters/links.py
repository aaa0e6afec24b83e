"""Review links: a signed token bound to one approval request and one recipient, with an expiry.

The token only says "this link was mailed to ADDRESS for request N, until T". It grants
nothing by itself — the review page still needs a signed-in approver and a CSRF-protected
POST — so a mail scanner that follows it, or a colleague it is forwarded to, changes nothing.
Expiry is checked against the injected clock (not itsdangerous' wall-clock timestamps), so
tests can move time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "signoff.review-link.v1"
# A request without an expiry still gets links that stop working eventually.
DEFAULT_LIFETIME = timedelta(days=14)


@dataclass(frozen=True)
class LinkCheck:
    """The outcome of checking a token: `ok`, or why not (the page explains each)."""

    status: Literal["ok", "tampered", "expired", "foreign"]
    request_id: int | None = None
    recipient: str | None = None
    expires_at: datetime | None = None


class ReviewLinks:
    def __init__(self, secret: str, public_url: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.public_url = public_url.rstrip("/")

    def token(self, request_id: int, recipient: str, expires_at: datetime) -> str:
        payload = {"r": int(request_id), "to": recipient.strip().lower(), "exp": int(expires_at.timestamp())}
        return self._serializer.dumps(payload)

    def expiry(self, request_expires_at: datetime | None, now: datetime) -> datetime:
        return link_expiry(request_expires_at, now)

    def url(self, request_id: int, recipient: str, expires_at: datetime) -> str:
        return f"{self.public_url}/review/{request_id}?t={quote(self.token(request_id, recipient, expires_at))}"

    def check(self, token: str, *, request_id: int, now: datetime, email: str | None = None) -> LinkCheck:
        """Whether `token` is a genuine, current link to `request_id` for the user with `email`.

        `email=None` checks signature and expiry only (before the visitor has signed in).
        """
        try:
            payload = self._serializer.loads(token)
            rid, to, exp = int(payload["r"]), str(payload["to"]), int(payload["exp"])
        except (BadSignature, KeyError, TypeError, ValueError):
            return LinkCheck("tampered")
        if rid != request_id:
            return LinkCheck("tampered")
        expires_at = datetime.fromtimestamp(exp, UTC)
        if now >= expires_at:
            return LinkCheck("expired", rid, to, expires_at)
        if email is not None and email.strip().lower() != to:
            return LinkCheck("foreign", rid, to, expires_at)
        return LinkCheck("ok", rid, to, expires_at)


def link_expiry(expires_at: datetime | None, now: datetime) -> datetime:
    """Links live as long as their request (or DEFAULT_LIFETIME when it never expires)."""
    return expires_at if expires_at is not None else now + DEFAULT_LIFETIME
