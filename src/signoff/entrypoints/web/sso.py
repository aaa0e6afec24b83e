"""Directory sign-in for the web UI: passwords through LDAP / AD, and "Sign in with …" (OIDC).

`/auth/oidc/login` sends the browser to the provider with a fresh state, nonce and PKCE
challenge; what the callback must match travels in a signed, HttpOnly cookie scoped to
`/auth/oidc` that lives ten minutes and is deleted by the callback, whatever its outcome.
SameSite=Lax lets it ride along on the provider's top-level redirect back to us.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature

from signoff.adapters.identity import directory_for
from signoff.adapters.passwords import verify_password
from signoff.bootstrap import Context
from signoff.entrypoints.web import esign_sso
from signoff.entrypoints.web.common import (
    OIDC_COOKIE,
    OIDC_PATH,
    WebRoute,
    error_page,
    safe_next,
    session_id,
    set_session_cookie,
    web_state,
)
from signoff.entrypoints.signin_guard import throttled
from signoff.errors import AuthenticationFailed, NotFound, RateLimited, SignoffError
from signoff.services import identity, web_sessions

if TYPE_CHECKING:  # authlib and joserfc load only where OIDC is configured (start-up time)
    from signoff.adapters.oidc import OidcProvider, PendingLogin

router = APIRouter(route_class=WebRoute, include_in_schema=False)



def uses_directory(ctx: Context) -> bool:
    return any(p != "local" for p in ctx.settings.auth.providers)


def password_sign_in(request: Request, ctx: Context, name: str, password: str) -> str:
    """A new session id after checking `name` and `password` with the configured providers.

    Raises AuthenticationFailed, and ServiceUnavailable when the directory is down or too slow.
    """
    agent = request.headers.get("user-agent", "")
    if not uses_directory(ctx):
        sid, _ = web_sessions.sign_in(uow=ctx.uow(), name=name, password=password, verify_password=verify_password,
                                      previous_session=session_id(request), user_agent=agent)
        return sid
    who = identity.sign_in(uow=ctx.uow(), directory=directory_for(ctx), username=name, password=password)
    sid, _ = web_sessions.open_session(uow=ctx.uow(), user=who.name, previous_session=session_id(request),
                                       user_agent=agent, via=who.provider)
    return sid


def _sso(request: Request) -> OidcProvider:
    from signoff.adapters.oidc import OidcProvider

    sso = directory_for(web_state(request).ctx).sso
    if not isinstance(sso, OidcProvider):
        raise NotFound("single sign-on is not configured on this server")
    return sso


@router.get(f"{OIDC_PATH}/login")
def oidc_login(request: Request, next: str = Query("/", max_length=2048)) -> Response:
    """Start single sign-on: redirect to the provider (GET, changes nothing here but a cookie)."""
    from signoff.adapters.oidc import LOGIN_MAX_AGE

    url, pending = _sso(request).begin(safe_next(next))
    state = web_state(request)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(OIDC_COOKIE, state.cookies.dumps(pending.to_dict(), salt="oidc"), path=OIDC_PATH,
                        max_age=int(LOGIN_MAX_AGE), httponly=True, samesite="lax", secure=state.secure_cookies)
    return response


@router.get(f"{OIDC_PATH}/callback")
def oidc_callback(request: Request) -> Response:
    """Where the provider sends the browser back: check state, nonce, PKCE, then open a session."""
    sso = _sso(request)
    ctx = web_state(request).ctx
    pending = _pending(request)
    signed_in: list[Any] = []  # the identity `complete` established, for a signature in progress

    def complete() -> str:
        who = sso.complete(params=dict(request.query_params), pending=pending)
        signed_in.append(who)
        identity.record_identity(uow=ctx.uow(), identity=who)
        directory_for(ctx).remember(who.name, who.groups)
        sid, _ = web_sessions.open_session(uow=ctx.uow(), user=who.name, previous_session=session_id(request),
                                           user_agent=request.headers.get("user-agent", ""), via=who.provider)
        return sid

    try:
        # The provider checked the password; what can be guessed here is a callback (state, code).
        sid = throttled(request, ctx, complete, username="", via="oidc")
    except SignoffError as exc:
        from signoff.entrypoints.api.errors import status_for

        response: Response = error_page(request, status_for(exc), f"Signing in with {sso.display_name} did not work",
                                        exc.message, request_id=None)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
    else:
        assert pending is not None

        # A signature in progress (max_age=0 round trip): make the kept decision, then go back to it.
        response = esign_sso.finish(request, signed_in[0]) or RedirectResponse(safe_next(pending.next_url), status_code=303)
        set_session_cookie(response, request, sid)
    _drop_pending(response, request)
    return response


def _drop_pending(response: Response, request: Request) -> None:
    response.delete_cookie(OIDC_COOKIE, path=OIDC_PATH, httponly=True, samesite="lax",
                           secure=web_state(request).secure_cookies)


def _pending(request: Request) -> PendingLogin | None:
    from signoff.adapters.oidc import PendingLogin

    raw = request.cookies.get(OIDC_COOKIE)
    if not raw:
        return None
    try:
        return PendingLogin.from_dict(web_state(request).cookies.loads(raw, salt="oidc"))
    except (BadSignature, AuthenticationFailed):
        return None


def install(app: FastAPI, ctx: Context) -> None:
    """Add the SSO routes and tell the sign-in page which buttons and forms to show."""
    app.include_router(router)
    directory_for(ctx)  # a bad [auth.ldap] / [auth.oidc] section fails at start-up, naming the key
    globals_: dict[str, Any] = app.state.web.templates.env.globals
    auth = ctx.settings.auth
    globals_["password_signin"] = any(p in ("local", "ldap") for p in auth.providers)
    globals_["sso_name"] = auth.oidc.display_name if "oidc" in auth.providers and auth.oidc else None
