"""`/api/v1/audit`: the hash-chained audit log, and a check of the chain."""

from __future__ import annotations

from datetime import datetime
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
from signoff.entrypoints.api.schemas import AuditEntryPublic, AuditReport, Page
from signoff.errors import InvalidInput
from signoff.services import queries

router = api_router("audit")


@router.get("/audit", response_model=Page[AuditEntryPublic])
def list_audit(model: str | None = Query(None, max_length=128), since: str | None = Query(None, json_schema_extra={"format": "date-time"}, max_length=64),
               cursor: IntCursor = None, limit: int = Query(100, ge=1, le=MAX_PAGE),
               principal: Principal = Depends(current_principal), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Audit entries oldest first, optionally for one model and from a time on."""
    entries = queries.list_audit(uow=ctx.read_uow(), model=model or None, since=_instant(since), after=int_cursor(cursor),
                                 limit=limit)
    items = [e.to_dict() for e in entries]
    return {"items": items, "next_cursor": next_cursor(items, limit, "id")}


def _instant(text: str | None) -> datetime | None:
    """An RFC 3339 time with its offset (`2026-11-25T12:00:00Z`); a time without one is ambiguous."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or "T" not in text.upper():
        raise InvalidInput(f"since must be an RFC 3339 date-time with an offset, not {text!r}",
                           details={"field": "since"})
    return at


@router.get("/audit/verify", response_model=AuditReport)
def verify_audit(principal: Principal = Depends(current_principal), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Recompute the hash chain, check it against the stored signed checkpoints, and check every
    live pointer and latest parameter value against it; the report names each discrepancy."""
    from signoff.services import audit_anchor

    return audit_anchor.verify_audit(uow=ctx.uow(), keys=ctx.keys, by=principal.name, workflow=ctx.workflow)


