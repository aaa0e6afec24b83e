"""What every sign-in door shares: the client's address and the Context's sign-in throttle."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request

from signoff.bootstrap import Context
from signoff.services.signin_throttle import SigninThrottle

T = TypeVar("T")


def throttle_for(ctx: Context) -> SigninThrottle:
    """The Context's throttle, built once; its windows run on the Context's clock (tests move it)."""
    def build() -> SigninThrottle:
        from signoff.adapters.db.signin_counters import SqlCounterStorage

        auth, clock = ctx.settings.auth, ctx.clock

        def now() -> float:
            return clock.now().timestamp()

        return SigninThrottle(SqlCounterStorage(ctx.engine, now=now), per_account=auth.signin_failures_per_account,
                              per_address=auth.signin_failures_per_address, uow_factory=ctx.uow, now=now)

    return ctx.built_once("signin_throttle", build)


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The client's IP: the TCP peer, or behind a trusted proxy the nearest untrusted X-Forwarded-For hop.

    Only hops appended by trusted proxies are believed: anything to their left was written by the
    client itself and could name any address it likes.
    """
    peer = request.client.host if request.client else ""
    if not trusted_proxies or not _within(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _within(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


def _within(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def throttled(request: Request, ctx: Context, check: Callable[[], T], *, username: str, via: str) -> T:
    """`check` through the throttle, for the client of `request`; raises RateLimited and what `check` raises."""
    address = client_address(request, ctx.settings.auth.trusted_proxies)
    return throttle_for(ctx).attempt(check, username=username, address=address, via=via)
