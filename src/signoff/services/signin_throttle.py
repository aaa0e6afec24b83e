"""The sign-in throttle: failed sign-ins per account and per client address, and what they emit.

Every door that checks a password or an SSO answer (the web form, `POST /api/v1/sessions`, the
OIDC callback; local, LDAP and OIDC accounts alike) runs its check through `SigninThrottle.attempt`:

- before anything is checked, an account or an address over its limit is refused with
  RateLimited (429, Retry-After): not even a right password gets in until the window ends, so
  guessing cannot go on;
- a failure counts against both, and is written as an audit entry and a
  `signoff.auth.signin_failed` event in one transaction; the failure that reaches a limit also
  writes `signoff.auth.locked_out` and is answered with RateLimited already;
- a success clears the account's count (not the address's: one's own right password must not
  buy more guesses at somebody else's).

Refused attempts are not written anywhere: the throttle bounds what an attacker can make the
audit log hold. Counters live in the database (adapters/db/signin_counters.py), so the limits
hold across every server process. Locking an account is also a way to keep its owner out for
one window; the per-account limit is set with that in mind (docs/auth.md).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from signoff.domain import people
from signoff.domain.events import Event
from signoff.errors import AuthenticationFailed, RateLimited
from signoff.services.ports import UnitOfWork

log = logging.getLogger("signoff.auth")

T = TypeVar("T")
ACTOR = "anonymous"  # who fails a sign-in is exactly what is not known


class SigninThrottle:
    def __init__(self, storage: Storage, *, per_account: str, per_address: str,
                 uow_factory: Callable[[], UnitOfWork], now: Callable[[], float] = time.time) -> None:
        self.limiter = FixedWindowRateLimiter(storage)
        self.now = now  # the storage's clock: window ends are in its Unix time
        self.rates = {"account": per_account, "address": per_address}  # as configured, for the events
        self.limits: dict[str, RateLimitItem] = {scope: parse(rate) for scope, rate in self.rates.items()}
        self.uow_factory = uow_factory

    def attempt(self, check: Callable[[], T], *, username: str, address: str, via: str) -> T:
        """Run `check` (raises AuthenticationFailed on bad credentials) unless a limit is reached.

        Raises RateLimited (over a limit: before `check`, or at the failure that reached it) and
        whatever `check` raises; ServiceUnavailable and other errors do not count as failures.
        """
        keys = {"account": _account_key(username), "address": address or "unknown"}
        keys = {scope: key for scope, key in keys.items() if key}
        over = self._over(keys)
        if over is not None:
            raise self._refusal(*over)
        try:
            result = check()
        except AuthenticationFailed as exc:
            reached = self._failed(keys, username=username, address=address, via=via, reason=exc.message)
            if reached is not None:
                raise self._refusal(*reached) from None
            raise
        if "account" in keys:
            self.limiter.clear(self.limits["account"], "signin", "account", keys["account"])
        return result

    def _over(self, keys: dict[str, str]) -> tuple[str, int] | None:
        for scope, key in keys.items():
            item = self.limits[scope]
            if not self.limiter.test(item, "signin", scope, key):
                reset = self.limiter.get_window_stats(item, "signin", scope, key).reset_time
                return scope, max(1, math.ceil(reset - self.now()))
        return None

    def _failed(self, keys: dict[str, str], *, username: str, address: str, via: str,
                reason: str) -> tuple[str, int] | None:
        for scope, key in keys.items():
            self.limiter.hit(self.limits[scope], "signin", scope, key)
        reached = self._over(keys)
        name = _printable(username.strip().lower())[:128]
        subject = f"users/{name}" if name else f"signin/{address or 'unknown'}"
        data = {"user": name or None, "address": address or None, "via": via, "reason": reason}
        with self.uow_factory() as uow:
            uow.record(actor=ACTOR, action="auth.signin_failed", subject=subject, model=None, after=data)
            uow.emit(Event(people.SIGNIN_FAILED, subject, data))
            if reached is not None:
                scope, seconds = reached
                locked = {**data, "scope": scope, "retry_after": seconds,
                          "limit": self.rates[scope]}
                uow.record(actor=ACTOR, action="auth.locked_out", subject=subject, model=None, after=locked)
                uow.emit(Event(people.LOCKED_OUT, subject, locked))
            uow.commit()
        if reached is not None:
            log.warning("sign-in locked for %ss: too many failures for %s %s (via %s)", reached[1], reached[0],
                        name if reached[0] == "account" else address, via)
        return reached

    def _refusal(self, scope: str, seconds: int) -> RateLimited:
        whose = "for this account" if scope == "account" else "from this address"
        return RateLimited(f"too many failed sign-ins {whose}; try again in {seconds} s",
                           details={"retry_after": seconds, "scope": scope})


def _account_key(username: str) -> str:
    name = username.strip().lower()
    # Whatever was typed gets counted; what cannot be a user name (too long, control characters
    # that PostgreSQL refuses in text) is counted under its digest.
    if len(name) <= 128 and name.isprintable():
        return name
    return "sha256:" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)

