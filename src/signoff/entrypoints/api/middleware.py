"""The one ASGI middleware: request ids, request-body size limit (413), Prometheus request
metrics and the access log.

Pure ASGI rather than `BaseHTTPMiddleware`, and a single layer, because every request of the
resolve hot path pays for it. Bodies are read up front (they are small, and capped), which lets
an oversized body be refused before any route or validation sees it.

It is given the app's hot routes (entrypoints/api/hot_routes.py: resolve and register, declared
in the app's routes ahead of FastAPI's) and asks them first, through their own `matches`: a
request one of them takes is answered without the layers between here and the router (the
exception layer, the exit stack, the walk through every route), a tenth of a resolve. Anything
else goes to the app, whose router finds the same hot routes first.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signoff.entrypoints.api.access_log import logged_target
from signoff.entrypoints.api.body_guard import check_body, check_url, replay
from signoff.entrypoints.api.errors import signoff_error_response, unexpected_response
from signoff.entrypoints.api.hot_routes import FALLBACK, HotRoute
from signoff.errors import InvalidInput, SignoffError

from signoff.entrypoints.logs import accept_request_id, request_id

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUEST_ID = b"x-request-id"
access_log = logging.getLogger("signoff.access")  # on with `signoff server --access-log`


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.count = Counter("signoff_http_requests", "HTTP requests by route and status",
                             ["method", "route", "status"], registry=registry)
        self.latency = Histogram("signoff_http_request_duration_seconds", "HTTP request latency by route",
                                 ["method", "route"], registry=registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = (self.count.labels(method, route, str(status)),
                                           self.latency.labels(method, route))
        child[0].inc()
        child[1].observe(seconds)


class ApiMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: RequestMetrics,
                 hot_routes: Sequence[HotRoute] = ()) -> None:
        self.app, self.max_body_bytes, self.metrics = app, max_body_bytes, metrics
        self.hot_routes = tuple(hot_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        responded = False
        given = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID:
                given = value
                break
        rid = accept_request_id(given)
        reset = request_id.set(rid)  # every log line written for this request carries it
        rid_header = (REQUEST_ID, rid.encode())

        async def send_with_status(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            refusal = check_url(scope["path"], scope["query_string"])
            body: bytes | None = b""
            if refusal is None and scope["method"] in BODY_METHODS:  # a refused URL's body is never read
                body = await self._read_body(scope, receive)
            if refusal is not None:
                await _refuse(send_with_status, refusal)
            elif body is None:
                await _too_large(send_with_status, self.max_body_bytes)
            elif scope["method"] in BODY_METHODS and (refusal := _check_body(scope, body)) is not None:
                await _refuse(send_with_status, refusal)
            else:
                if scope["method"] in BODY_METHODS:
                    receive = replay(body, receive)
                hot = self._hot_route(scope)
                if hot is None:
                    await self.app(scope, receive, send_with_status)
                else:
                    scope[FALLBACK] = self.app
                    try:
                        await hot.app(scope, receive, send_with_status)
                    except SignoffError as exc:  # as the app's exception layer would answer it
                        if responded:
                            raise
                        await signoff_error_response(exc)(scope, receive, send_with_status)
        except Exception as exc:
            # An exception no handler took: answered here rather than by the server error layer
            # outside, so the answer carries the request id and the log line names it; in the
            # API's error format (a database outage as a 503), unless an answer has already begun.
            if responded:
                raise
            await unexpected_response(exc, scope["method"], scope["path"])(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self.metrics.observe(scope["method"], route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info('%s "%s %s" %d %.1f ms', client[0] if client else "-", scope["method"],
                                logged_target(scope["path"], scope["query_string"]), status, elapsed * 1000)
            request_id.reset(reset)

    def _hot_route(self, scope: Scope) -> HotRoute | None:
        for route in self.hot_routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                return route
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > self.max_body_bytes:
                        return None
                except ValueError:
                    pass
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _check_body(scope: Scope, body: bytes) -> InvalidInput | None:
    content_type = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
    return check_body(content_type.lower(), body)


async def _refuse(send: Send, exc: InvalidInput) -> None:
    body = json.dumps({"error": exc.to_dict()}).encode()
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": {"code": "payload_too_large",
                                 "message": f"request body larger than {limit} bytes",
                                 "details": {"limit": limit}}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
