"""What every page needs: templates, the signed-in user, CSRF checks, and HTML error pages.

Pages are plain server-rendered HTML; the only state a browser holds is two cookies:
`signoff_session` (a signed, random session id; the server keeps the session) and
`signoff_signin` (a signed random value that protects the sign-in form itself from CSRF).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeSerializer

from signoff.adapters.formatting import FILTERS
from signoff.adapters.links import ReviewLinks
from signoff.bootstrap import Context
from signoff.errors import AuthenticationFailed, PermissionDenied, RateLimited, SignoffError
from signoff.services import web_sessions
from signoff.services.web_sessions import WebUser

if TYPE_CHECKING:
    from signoff.demo.mail_catcher import Mailbox

HERE = Path(__file__).parent
SESSION_COOKIE = "signoff_session"
SIGNIN_COOKIE = "signoff_signin"
# The provider's round trip (sign-in and signing re-authentication share it).
OIDC_COOKIE = "signoff_oidc"
OIDC_PATH = "/auth/oidc"
# Pages must not leak a review token through Referer, be framed, or be cached by a shared proxy.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
}


@dataclass
class WebState:
    ctx: Context
    templates: Jinja2Templates
    links: ReviewLinks
    cookies: URLSafeSerializer
    secure_cookies: bool
    mailbox: Mailbox | None = None  # when `signoff server --demo` runs


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web  # set by mount_web
    return state


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(FILTERS)
    from signoff.entrypoints.web import charts

    templates.env.globals["charts"] = charts  # inline SVG builders (charts.py)
    return templates


# --- the signed-in user ---------------------------------------------------------------------


def session_id(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        value = web_state(request).cookies.loads(raw, salt="session")
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def viewer(request: Request) -> WebUser | None:
    """The signed-in user (read once per request; reading never writes)."""
    if not hasattr(request.state, "viewer"):
        sid = session_id(request)
        ctx = web_state(request).ctx
        request.state.viewer = web_sessions.current_user(uow=ctx.read_uow(), session_id=sid) if sid else None
    found: WebUser | None = request.state.viewer
    return found


class SignInRequired(Exception):
    """Raised by `signed_in`; WebRoute turns it into a redirect to the sign-in page."""


def signed_in(request: Request) -> WebUser:
    user = viewer(request)
    if user is None:
        raise SignInRequired()
    return user


def check_csrf(user: WebUser, token: str | None) -> None:
    """Every POST carries the session's CSRF token; a missing or wrong one is refused (403)."""
    if not token or not hmac.compare_digest(token.encode(), user.csrf_token.encode()):
        raise PermissionDenied("the form's CSRF token is missing or wrong; reload the page and try again",
                               details={"reason": "csrf"})


def set_session_cookie(response: Response, request: Request, sid: str | None) -> None:
    state = web_state(request)
    if sid is None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=state.secure_cookies, httponly=True, samesite="lax")
        return
    response.set_cookie(SESSION_COOKIE, state.cookies.dumps(sid, salt="session"), path="/", httponly=True,
                        samesite="lax", secure=state.secure_cookies,
                        max_age=int(web_sessions.SESSION_LIFETIME.total_seconds()))


def signin_token(request: Request) -> tuple[str, str | None]:
    """The sign-in form's CSRF value, and a new cookie to set when the browser had none."""
    raw = request.cookies.get(SIGNIN_COOKIE)
    if raw:
        try:
            value = web_state(request).cookies.loads(raw, salt="signin")
            if isinstance(value, str):
                return value, None
        except BadSignature:
            pass
    value = secrets.token_urlsafe(24)
    return value, web_state(request).cookies.dumps(value, salt="signin")


def check_signin_csrf(request: Request, token: str | None) -> None:
    raw = request.cookies.get(SIGNIN_COOKIE)
    try:
        expected = web_state(request).cookies.loads(raw, salt="signin") if raw else None
    except BadSignature:
        expected = None
    if not token or not isinstance(expected, str) or not hmac.compare_digest(token.encode(), expected.encode()):
        raise PermissionDenied("the sign-in form's CSRF token is missing or wrong; reload the page and try again",
                               details={"reason": "csrf"})


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: `//evil.example` and `https://…` would make an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# --- rendering ------------------------------------------------------------------------------


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    state = web_state(request)
    user = viewer(request)
    base = {"user": user, "demo": state.mailbox is not None, "path": request.url.path,
            "envs": list(state.ctx.workflow.order)}
    response = state.templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


def error_page(request: Request, status: int, title: str, message: str, **context: Any) -> HTMLResponse:
    return render(request, "error.html", status_code=status, title=title, message=message, **context)


def status_of(exc: SignoffError) -> int:
    """The error class's HTTP status, as the API answers it."""
    return exc.status


TITLES = {400: "That did not work", 401: "Please sign in", 403: "Not allowed", 404: "Not found",
          409: "Not possible right now", 410: "This link has expired", 429: "Too many attempts"}


class WebRoute(APIRoute):
    """Routes of the web UI: domain errors become HTML pages, a missing sign-in a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
            except AuthenticationFailed as exc:
                return error_page(request, 401, TITLES[401], exc.message)
            except SignoffError as exc:
                status = status_of(exc)
                page = error_page(request, status, TITLES.get(status, "Something went wrong"), exc.message)
                if isinstance(exc, RateLimited):
                    page.headers["Retry-After"] = str(exc.retry_after)
                return page

        return route
