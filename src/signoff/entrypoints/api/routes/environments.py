"""`GET /api/v1/models/{model}/environments/{env}`: resolve, the inference pipelines' hot path.

One keyed read, serialised by hand (no response-model round trip), an ETag over the body, and
`If-None-Match` answered with 304 so polling clients transfer nothing while nothing changed.

The FastAPI route documents the operation and serves anything unusual (a query string, HEAD);
plain GETs are answered by the hot route declared ahead of it (`hot_route`, entrypoints/api/
hot_routes.py). It skips FastAPI's dependency resolution, about half the cost of a resolve, and
runs the same checks (authenticators, scope, `X-Signoff-As`) through the same functions.
"""

from __future__ import annotations

import hashlib
import json

from fastapi import Depends, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import context, principal_for_resolve, resolve_principal
from signoff.entrypoints.api.errors import signoff_error_response
from signoff.entrypoints.api.hot_routes import HotRoute
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import LivePublic
from signoff.domain.models import LiveVersion
from signoff.errors import PermissionDenied, SignoffError
from signoff.services import queries

router = api_router("environments")

ROUTE = "/models/{model}/environments/{env}"
PATH = "/api/v1" + ROUTE


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _resolved(request: Request, ctx: Context, principal: Principal, model: str, env: str) -> _Rendered:
    if not principal.allows("resolve"):
        raise PermissionDenied("this token lacks the resolve scope",
                               details={"required": ["resolve"], "scopes": sorted(principal.scopes)})
    return _rendered(queries.resolve(reader=ctx.reader, workflow=ctx.workflow, model=model, env=env))


def answer(request: Request, ctx: Context, principal: Principal, model: str, env: str) -> Response:
    rendered = _resolved(request, ctx, principal, model, env)
    headers = {"ETag": rendered.etag, "Cache-Control": "no-cache"}
    if matches(request.headers.get("if-none-match"), rendered.etag):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)


class _Rendered:
    """A resolve answer ready to send: body, ETag and the raw 200 headers."""

    __slots__ = ("live", "body", "etag", "headers")

    def __init__(self, live: LiveVersion) -> None:
        self.live = live
        self.body = json.dumps(live.to_dict(), separators=(",", ":")).encode()
        self.etag = etag_for(self.body)
        self.headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode()),
                        (b"etag", self.etag.encode()), (b"cache-control", b"no-cache")]


# The last answer rendered per (model, env), reused while the reader hands out the same object
# (its cache does, until anything changes): JSON encoding was a fifth of a cached resolve.
_RENDERED: dict[tuple[str, str], _Rendered] = {}


def _rendered(live: LiveVersion) -> _Rendered:
    key = (live.model, live.env)
    done = _RENDERED.get(key)
    if done is None or done.live is not live:
        done = _RENDERED[key] = _Rendered(live)
    return done


@router.get(ROUTE, response_model=LivePublic,
            responses={304: {"description": "Not modified: the ETag sent in If-None-Match still holds"}})
def resolve(model: str, env: str, request: Request, principal: Principal = Depends(resolve_principal),
            ctx: Context = Depends(context)) -> Response:
    """The version live in an environment: number, artifact URI and digest, approvals. Scope: resolve.

    Sends an `ETag`; repeat the request with `If-None-Match` to get 304 while nothing changed."""
    return answer(request, ctx, principal, model, env)


async def _hot_resolve(scope: Scope, receive: Receive, send: Send, fallback: ASGIApp) -> None:
    model, env = scope["path_params"]["model"], scope["path_params"]["env"]
    request = Request(scope, receive)
    try:
        rendered = _resolved(request, scope["app"].state.ctx, principal_for_resolve(request), model, env)
    except SignoffError as exc:
        await signoff_error_response(exc)(scope, receive, send)
        return
    if matches(request.headers.get("if-none-match"), rendered.etag):
        headers = {"ETag": rendered.etag, "Cache-Control": "no-cache"}
        await Response(status_code=304, headers=headers)(scope, receive, send)
        return
    # The common answer as two raw ASGI messages: a Response object per request was a tenth of it.
    await send({"type": "http.response.start", "status": 200, "headers": rendered.headers})
    await send({"type": "http.response.body", "body": rendered.body})


def hot_route() -> HotRoute:
    """Plain resolve GETs (no query string), ahead of the FastAPI route (one per app)."""
    return HotRoute(PATH, "GET", _hot_resolve, plain=lambda scope, params: True)
