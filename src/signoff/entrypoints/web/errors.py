"""Browsers get error pages in the site's layout; API clients keep the JSON error body.

Errors raised inside a web page's handler are turned into pages by `WebRoute`. What never reaches
a handler — an unknown path, a path or query value that fails validation (`/models/x/versions/abc`),
a wrong method — goes through the app's exception handlers, which answer JSON. These wrap them:
a request that asks for HTML (as a browser's navigation does) outside `/api/` gets the page.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from signoff.entrypoints.web.common import TITLES, error_page

log = logging.getLogger("signoff.web")
Handler = Callable[[Request, Exception], Awaitable[Response]]
# What FastAPI keeps in `app.exception_handlers` (create_app installs coroutines).
JsonHandler = Callable[[Request, Any], Response | Awaitable[Response]]
MESSAGES = {404: "There is no page at this address. It may have moved, or the link may be mistyped.",
            405: "This page cannot be opened that way."}


def wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = [str(p) for p in error.get("loc", ()) if p not in ("path", "query", "body")]
        value = error.get("input")
        shown = f" ({str(value)[:40]!r})" if isinstance(value, str | int) else ""
        parts.append(f"{'.'.join(where) or 'the address'}{shown}: {error.get('msg', 'not valid')}")
    return "This address has a value the page cannot use — " + "; ".join(parts) + "."


async def _json_answer(json_handler: JsonHandler, request: Request, exc: Exception) -> Response:
    answer = json_handler(request, exc)
    return await answer if inspect.isawaitable(answer) else answer


def _html_or(json_handler: JsonHandler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not wants_html(request) or not hasattr(request.app.state, "web"):
            return await _json_answer(json_handler, request, exc)
        if isinstance(exc, RequestValidationError):
            status, message = 422, _validation_message(exc)
            title = "That address is not valid"
        elif isinstance(exc, StarletteHTTPException):
            status = exc.status_code
            message = MESSAGES.get(status) or str(exc.detail)
            title = TITLES.get(status, "Something went wrong")
        else:
            log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
            status, title = 500, "Something went wrong"
            message = "The server could not show this page; the error has been logged."
        try:
            page = error_page(request, status, title, message)
        except Exception:  # the page itself needs the database: fall back to the plain answer
            log.exception("could not render the error page for %s", request.url.path)
            return await _json_answer(json_handler, request, exc)
        if isinstance(exc, StarletteHTTPException) and exc.headers:
            page.headers.update(exc.headers)
        return page

    return handle


def install(app: FastAPI) -> None:
    """Wrap the handlers `create_app` installed (call after it has)."""
    handlers = app.exception_handlers
    for kind in (RequestValidationError, StarletteHTTPException, Exception):
        if kind in handlers:
            app.add_exception_handler(kind, _html_or(handlers[kind]))
