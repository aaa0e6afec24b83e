"""Sign-in and sign-out pages, and the session-cookie authenticator the REST API also accepts."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from signoff.domain.identity import Principal
from signoff.entrypoints.web import sso
from signoff.entrypoints.web.common import (
    SIGNIN_COOKIE,
    WebRoute,
    check_csrf,
    check_signin_csrf,
    render,
    safe_next,
    session_id,
    set_session_cookie,
    signed_in,
    signin_token,
    viewer,
    web_state,
)
from signoff.entrypoints.signin_guard import throttled
from signoff.errors import AuthenticationFailed, RateLimited, ServiceUnavailable, SignoffError
from signoff.services import approvals, web_sessions

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"


def _signin_page(request: Request, next_url: str, *, error: str | None = None, name: str = "",
                 status_code: int = 200, headers: dict[str, str] | None = None, waiting: str | None = None) -> Response:
    token, cookie = signin_token(request)
    response = render(request, "signin.html", status_code=status_code, csrf=token, next=next_url, error=error,
                      name=name, waiting=waiting)
    response.headers.update(headers or {})
    if cookie is not None:
        response.set_cookie(SIGNIN_COOKIE, cookie, path="/", httponly=True, samesite="lax",
                            secure=web_state(request).secure_cookies)
    return response


REVIEW_LINK = re.compile(r"/review/(\d{1,10})\?t=([^&#]+)")


def _waiting(request: Request, next_url: str) -> str | None:
    """'churn v3 for prod' when `next` is a valid, unexpired review link (only its holder has it)."""
    found = REVIEW_LINK.fullmatch(next_url)
    if found is None:
        return None
    state = web_state(request)
    request_id, token = int(found.group(1)), unquote(found.group(2))
    if state.links.check(token, request_id=request_id, now=state.ctx.clock.now()).status in ("tampered", "expired"):
        return None
    try:
        r = approvals.get_request(uow=state.ctx.uow(), workflow=state.ctx.workflow, request_id=request_id)
    except SignoffError:
        return None
    return f"{r.model} v{r.version} for {r.env}"


@router.get("/signin")
def signin_form(request: Request, next: str = "/") -> Response:
    target = safe_next(next)
    return _signin_page(request, target, waiting=_waiting(request, target))


@router.post("/signin")
def signin(request: Request, name: str = Form(""), password: str = Form(""), csrf_token: str = Form(""),
           next: str = Form("/")) -> Response:
    check_signin_csrf(request, csrf_token)
    ctx = web_state(request).ctx
    try:
        sid = throttled(request, ctx, lambda: sso.password_sign_in(request, ctx, name, password),
                        username=name, via="web")
    except RateLimited as exc:
        return _signin_page(request, safe_next(next), error=exc.message, name=name, status_code=exc.status,
                            headers={"Retry-After": str(exc.retry_after)})
    except AuthenticationFailed as exc:
        return _signin_page(request, safe_next(next), error=exc.message, name=name, status_code=exc.status,
                            waiting=_waiting(request, safe_next(next)))
    except ServiceUnavailable as exc:  # the directory is down or slow: say so, with a 503
        return _signin_page(request, safe_next(next), error=exc.message, name=name, status_code=exc.status)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, request, sid)
    return response


@router.post("/signout")
def signout(request: Request, csrf_token: str = Form("")) -> Response:
    user = signed_in(request)
    check_csrf(user, csrf_token)
    sid = session_id(request)
    if sid:
        web_sessions.sign_out(uow=web_state(request).ctx.uow(), session_id=sid)
    response = RedirectResponse("/signin", status_code=303)
    set_session_cookie(response, request, None)
    return response


def session_authenticator(request: Request) -> Principal | None:
    """For the REST API: a browser's session cookie is a credential too.

    A cookie is sent by the browser on its own, so anything but a read also needs the session's
    CSRF token in an `X-CSRF-Token` header, which another site cannot read or forge.
    """
    if web_state(request).ctx is None or session_id(request) is None:
        return None
    user = viewer(request)
    if user is None:
        raise AuthenticationFailed("the web session has expired or was signed out; sign in again")
    if request.method not in SAFE_METHODS:
        check_csrf(user, request.headers.get(CSRF_HEADER))
    scopes = user.scopes | ({"admin"} if user.admin else set())
    return Principal(user.name, frozenset(scopes), via="session")

