"""`GET /api/v1/models/{model}/environments/{env}`: resolve, the inference pipelines' hot path.

One keyed read, serialised by hand (no response-model round trip), an ETag over the body, and
`If-None-Match` answered with 304 so polling clients transfer nothing while nothing changed.
"""

from __future__ import annotations

import hashlib
import json

from fastapi import Depends, Request, Response

from signoff.bootstrap import Context
from signoff.entrypoints.api.deps import context, resolve_principal
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import LivePublic
from signoff.errors import PermissionDenied
from signoff.services import lookups
from signoff.services.tokens import Principal

router = api_router("environments")


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


@router.get(
    "/models/{model}/environments/{env}",
    response_model=LivePublic,
    responses={304: {"description": "Not modified: the ETag sent in If-None-Match still holds"}},
)
def resolve(model: str, env: str, request: Request, principal: Principal = Depends(resolve_principal),
            ctx: Context = Depends(context)) -> Response:
    """The version live in an environment: number, artifact URI and digest, approvals. Scope: resolve.

    Sends an `ETag`; repeat the request with `If-None-Match` to get 304 while nothing changed."""
    if not principal.allows("resolve"):
        raise PermissionDenied("this token lacks the resolve scope",
                               details={"required": ["resolve"], "scopes": sorted(principal.scopes)})
    live = lookups.resolve(reader=ctx.reader, workflow=ctx.workflow, model=model, env=env)
    body = json.dumps(live.to_dict(), separators=(",", ":")).encode()
    etag = etag_for(body)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
