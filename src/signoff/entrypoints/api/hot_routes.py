"""Routes for the hot paths, declared in the router ahead of FastAPI's for the same operation.

Resolve and register are what pipelines call most. For them FastAPI's dependency resolution and
its thread-pool hops and response-model round trip cost about half of a request, so each has a
second route, placed first in the app's routes: a Starlette route with a raw ASGI endpoint that
runs the same checks through the same functions. It matches only the plain form of the request
(`plain(scope, path_params)`: no query string, the exact media type…); anything else, and any
request the endpoint hands back (a body that does not validate; it is routed again, past the hot
routes), goes to the FastAPI route,
which documents the operation and words every error. Routing, the route template in /metrics
and the error handlers are the app's own, as for every other route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Scope, Receive, Send, ASGIApp], Awaitable[None]]


DECLINED = "signoff.hot_route_declined"  # in the scope of a request a hot route handed back
# Where a declined request goes when the route was called ahead of the app (the API middleware
# passes the app below it, exception handlers included); else the router it came through.
FALLBACK = "signoff.hot_route_fallback"


class HotRoute(Route):
    def __init__(self, path: str, method: str, endpoint: Endpoint, *,
                 plain: Callable[[Scope, dict[str, Any]], bool]) -> None:
        super().__init__(path, endpoint, methods=[method], include_in_schema=False)
        self.method, self.plain, self.hot = method, plain, endpoint
        self.router: ASGIApp | None = None  # the app's router, to route a request handed back (declare)
        self.app = self._handle

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (scope["type"] != "http" or scope["method"] != self.method or scope.get("query_string")
                or DECLINED in scope):
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is not Match.FULL or not self.plain(scope, child["path_params"]):
            return Match.NONE, {}
        child["route"] = self  # what /metrics labels the request with, as FastAPI's routes do
        return match, child

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.router is not None, "declare() the hot route in its app"
        await self.hot(scope, receive, send, self._decline)

    async def _decline(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route the request again, past this route: to the FastAPI route of the operation."""
        assert self.router is not None
        scope[DECLINED] = True
        scope.pop("route", None)
        await scope.pop(FALLBACK, self.router)(scope, receive, send)


def declare(app: FastAPI, routes: Iterable[HotRoute]) -> None:
    """Put `routes` ahead of the app's others; what they hand back is routed again without them."""
    hot = list(routes)
    for route in hot:
        route.router = app.router
    app.router.routes[0:0] = hot
