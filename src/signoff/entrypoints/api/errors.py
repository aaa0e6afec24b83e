"""The handlers that write the error body; the HTTP status is the error class's (signoff.errors).

Every error leaves the API as `{"error": {"code", "message", "details"}}`, whatever raised it:
a domain exception, FastAPI's request validation, Starlette's 404/405, or an unexpected bug.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from signoff.adapters.db.outage import RETRY_AFTER_SECONDS, unavailable_from
from signoff.errors import RateLimited, SignoffError

log = logging.getLogger("signoff.api")

# Codes for errors that do not come from a domain exception.
HTTP_CODES = {400: "invalid_input", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "invalid_input"}


def status_for(exc: SignoffError) -> int:
    return exc.status


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def signoff_error_response(exc: SignoffError) -> JSONResponse:
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    elif status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return error_response(status, exc.code, exc.message, exc.details, headers)


def unexpected_response(exc: Exception, method: str, path: str) -> JSONResponse:
    """The answer for an exception no handler expected: 503 when the database is out of reach
    (logged as one line), else a 500 (logged with its traceback). Never the exception's text."""
    unavailable = unavailable_from(exc)
    if unavailable is not None:
        log.warning("database unavailable on %s %s: %s", method, path, str(exc).splitlines()[0][:300])
        return signoff_error_response(unavailable)
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return error_response(500, "internal", "internal server error")


async def _signoff_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SignoffError)
    return signoff_error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
              for e in exc.errors()]
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(400, "invalid_input", "the request body is not valid JSON", {"errors": errors})
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(p for p in first["loc"] if p != "body") or "request"
    return error_response(422, "invalid_input", f"{where}: {first['msg']}", {"errors": errors})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_response(exc, request.method, request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(SignoffError, _signoff_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
