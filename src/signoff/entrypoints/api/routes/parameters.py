"""`/api/v1/parameters/{name}`: the versioned parameter store (`/signoff/models/M/ENV`).

Names are hierarchical paths; the URL carries them with or without the leading slash
(`/api/v1/parameters/signoff/models/churn/prod`). `…/history` lists every version.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import (
    INT32_MAX,
    MAX_PAGE,
    IntCursor,
    context,
    int_cursor,
    next_cursor,
    require,
)
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import Page, ParameterPublic
from signoff.services import queries

router = api_router("parameters")


def _name(path: str) -> str:
    return path if path.startswith("/") else "/" + path


# Declared before the plain read: `{name:path}` would otherwise swallow the `/history` suffix.
@router.get("/parameters/{name:path}/history", response_model=Page[ParameterPublic])
def parameter_history(name: str, cursor: IntCursor = None,
                      limit: int = Query(100, ge=1, le=MAX_PAGE), principal: Principal = Depends(require("resolve")),
                      ctx: Context = Depends(context)) -> dict[str, Any]:
    """Every version of a parameter, oldest first. Scope: resolve."""
    items = queries.parameter_history(uow=ctx.read_uow(), name=_name(name), after=int_cursor(cursor, INT32_MAX), limit=limit)
    return {"items": items, "next_cursor": next_cursor(items, limit, "version")}


@router.get("/parameters/{name:path}", response_model=ParameterPublic)
def get_parameter(name: str, version: int | None = Query(None, ge=1, le=INT32_MAX),
                  principal: Principal = Depends(require("resolve")), ctx: Context = Depends(context)) -> dict[str, Any]:
    """A parameter's latest value, or `?version=N`. Scope: resolve."""
    return queries.get_parameter(uow=ctx.read_uow(), name=_name(name), version=version)
