"""How a decision request proves fresh authentication, for the API and the web form alike.

In order: a password in the body (checked again by the account's provider), else the sign-in
behind this request if it is at most `[signing] reauth_seconds` old (the token from `POST
/api/v1/sessions`, or the browser's session). Nothing else counts: a long-lived API token, an
emailed link or an old session never signs.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from signoff.adapters.identity import directory_for
from signoff.bootstrap import Context
from signoff.services import esign
from signoff.services.esign import Reauthentication, SigningRules

SIGN_IN_TOKEN_PREFIX = "sign-in ("  # the name `POST /api/v1/sessions` gives the tokens it makes


def signing_rules(ctx: Context) -> SigningRules:
    return SigningRules.of(ctx.settings.signing)


def reauthentication(request: Request, ctx: Context, user: str, *, password: str | None, meaning: str | None,
                     token_id: int | None = None) -> Reauthentication | None:
    """The proof of fresh authentication this request carries, or None; raises ReauthRequired for a
    wrong password (counted towards the signing lock)."""
    rules = signing_rules(ctx)
    if password:
        return esign.reauthenticate_password(uow_factory=ctx.uow, directory=directory_for(ctx), user=user,
                                             password=password, rules=rules, meaning=meaning)
    signed_in_at, via = _sign_in(request, ctx, token_id)
    if signed_in_at is None:
        return None
    return esign.from_sign_in(user=user, signed_in_at=signed_in_at, via=via, now=ctx.clock.now(), rules=rules,
                              meaning=meaning)


def _sign_in(request: Request, ctx: Context, token_id: int | None) -> tuple[Any, str]:
    with ctx.uow() as uow:
        if token_id is not None:
            row = uow.tokens.row(token_id)
            if row.name.startswith(SIGN_IN_TOKEN_PREFIX):
                return row.created_at, row.name[len(SIGN_IN_TOKEN_PREFIX):].rstrip(")")
            return None, ""
        from signoff.adapters.db.web_sessions import WebSessionRepository
        from signoff.entrypoints.web.common import session_id
        from signoff.services.web_sessions import session_hash

        sid = session_id(request)
        found = WebSessionRepository(uow.session).find(session_hash(sid)) if sid else None
        return (found[0].created_at, "web") if found else (None, "")


def with_signatures(ctx: Context, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request dict with its signatures' manifestation (name, user id, UTC time, meaning)."""
    from signoff.domain.signature_gaps import mark_unsigned, requires_signature

    return mark_unsigned(esign.with_signatures(uow=ctx.uow(), requests=requests), requires_signature(ctx.workflow))
