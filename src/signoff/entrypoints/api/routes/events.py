"""`/api/v1/events`: the outbox, as CloudEvents, oldest first."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import (
    MAX_PAGE,
    IntCursor,
    context,
    current_principal,
    int_cursor,
    next_cursor,
)
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import EventPublic, Page
from signoff.services import queries

router = api_router("events")


@router.get("/events", response_model=Page[EventPublic])
def list_events(type: str | None = Query(None, max_length=128), cursor: IntCursor = None,
                limit: int = Query(100, ge=1, le=MAX_PAGE), principal: Principal = Depends(current_principal),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """Events (CloudEvents 1.0) in the order they happened; `?type=signoff.version.approved` filters."""
    items = queries.list_events(uow=ctx.read_uow(), type=type or None, after=int_cursor(cursor), limit=limit)
    return {"items": items, "next_cursor": next_cursor(items, limit, "seq")}
