"""Signing a decision with single sign-on: the provider authenticates the person again.

The review form's "Sign with …" button posts the decision; it is kept in a signed cookie (never
acted on by following a link) while the browser goes to the provider with `max_age=0`. When
the provider sends the browser back, the callback (web/sso.py) hands the identity here: the
decision is made only if it is the same person and the ID token's `auth_time` is within
`[signing] reauth_seconds`; `prompt=login` alone is not trusted.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature

from signoff.adapters.identity import decision_groups, directory_for
from signoff.entrypoints.signatures import signing_rules
from signoff.entrypoints.web.common import OIDC_COOKIE, OIDC_PATH, web_state
from signoff.errors import NotFound, ReauthRequired, SignoffError
from signoff.services import approvals, esign

ESIGN_COOKIE = "signoff_esign"


def start(request: Request, *, user: str, request_id: int, decision: str, comment: str, meaning: str) -> Response:
    """Keep the decision and send the browser to the provider to authenticate again."""
    from signoff.adapters.oidc import LOGIN_MAX_AGE, OidcProvider

    state = web_state(request)
    sso = directory_for(state.ctx).sso
    if not isinstance(sso, OidcProvider):
        raise NotFound("single sign-on is not configured on this server")
    url, pending = sso.begin(f"/requests/{request_id}", max_age=0)
    response = RedirectResponse(url, status_code=303)
    for name, value in ((OIDC_COOKIE, state.cookies.dumps(pending.to_dict(), salt="oidc")),
                        (ESIGN_COOKIE, state.cookies.dumps({"user": user, "request_id": request_id, "decision": decision,
                                                            "comment": comment, "meaning": meaning}, salt="esign"))):
        response.set_cookie(name, value, path=OIDC_PATH, max_age=int(LOGIN_MAX_AGE), httponly=True, samesite="lax",
                            secure=state.secure_cookies)
    return response


def finish(request: Request, who: Any) -> Response | None:
    """After the provider's callback: make the kept decision as a signed one, or None if none is kept."""
    raw = request.cookies.get(ESIGN_COOKIE)
    if not raw:
        return None
    state = web_state(request)
    ctx = state.ctx
    try:
        kept = state.cookies.loads(raw, salt="esign", max_age=600)
    except BadSignature:
        return None
    target = f"/requests/{int(kept['request_id'])}"
    try:
        if who.name != kept["user"]:
            raise ReauthRequired(f"the provider authenticated {who.name}, not {kept['user']}: nothing was signed")
        reauth = esign.from_oidc(user=who.name, claims={"auth_time": who.auth_time}, now=ctx.clock.now(),
                                 rules=signing_rules(ctx), meaning=kept.get("meaning") or None)
        approvals.decide(uow=ctx.uow(), workflow=ctx.workflow, request_id=int(kept["request_id"]), actor=who.name,
                         verdict=kept["decision"], comment=kept["comment"], groups=decision_groups(ctx, who.name),
                         reauth=reauth, signing=signing_rules(ctx))
    except SignoffError as exc:
        from urllib.parse import quote

        response: Response = RedirectResponse(f"{target}?signing_error={quote(exc.message)}", status_code=303)
    else:
        response = RedirectResponse(f"{target}?decided={kept['decision']}", status_code=303)
    response.delete_cookie(ESIGN_COOKIE, path=OIDC_PATH, httponly=True, samesite="lax", secure=state.secure_cookies)
    return response
