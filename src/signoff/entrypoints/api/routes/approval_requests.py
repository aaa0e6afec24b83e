"""`/api/v1/approval-requests`: list and read requests, and decide on them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request

from signoff.adapters.identity import decision_groups
from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import (
    INT32_MAX,
    MAX_PAGE,
    IntCursor,
    context,
    current_principal,
    int_cursor,
    next_cursor,
    require,
)
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import ApprovalRequestPublic, DecisionCreate, Page
from signoff.entrypoints.signatures import reauthentication, signing_rules, with_signatures
from signoff.services import approvals

router = api_router("approval-requests")

# approval_requests.id is a 32-bit INTEGER: a larger id would be a PostgreSQL error, not a 404.
RequestId = Annotated[int, Path(ge=1, le=INT32_MAX)]


@router.get("/approval-requests", response_model=Page[ApprovalRequestPublic])
def list_requests(
    state: Literal["open", "approved", "rejected", "expired", "cancelled"] | None = Query(None),
    env: str | None = Query(None, max_length=64),
    model: str | None = Query(None, max_length=128),
    version: int | None = Query(None, ge=1, le=INT32_MAX, description="With model: one version's requests"),
    cursor: IntCursor = None,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    principal: Principal = Depends(current_principal),
    ctx: Context = Depends(context),
) -> dict[str, Any]:
    """Approval requests oldest first, filtered by state, environment and model."""
    requests = approvals.list_requests(uow=ctx.read_uow(), workflow=ctx.workflow, state=state or None, env=env or None,
                                       model=model or None, version=version, after=int_cursor(cursor, INT32_MAX),
                                       limit=limit)
    items = [r.to_dict() for r in requests]
    return {"items": items, "next_cursor": next_cursor(items, limit, "id")}


@router.get("/approval-requests/{request_id}", response_model=ApprovalRequestPublic)
def get_request(request_id: RequestId, principal: Principal = Depends(current_principal),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """One request with its decisions, evidence, gate results and electronic signatures."""
    request = approvals.get_request(uow=ctx.read_uow(), workflow=ctx.workflow, request_id=request_id).to_dict()
    return with_signatures(ctx, [request])[0]


@router.post("/approval-requests/{request_id}/decisions", status_code=201, response_model=ApprovalRequestPublic)
def decide(request_id: RequestId, body: DecisionCreate, http: Request, principal: Principal = Depends(require("decide")),
           ctx: Context = Depends(context)) -> dict[str, Any]:
    """Approve or reject. Scope: decide, and current membership in one of the environment's approver groups
    (checked now, not when the token was made). The registrant may not approve their own version.
    Where the environment's policy asks for electronic signatures, the body carries the signer's
    `password`, or the call is made with a sign-in at most `[signing] reauth_seconds` old; else 401
    `reauth_required` and nothing is written. `meaning` picks one of the policy's meanings."""
    reauth = reauthentication(http, ctx, principal.name, password=body.password.get_secret_value()
                              if body.password else None, meaning=body.meaning,
                              token_id=principal.token_id if principal.via != "session" else None)
    request = approvals.decide(uow=ctx.uow(), workflow=ctx.workflow, request_id=request_id, actor=principal.name,
                               verdict=body.decision, comment=body.comment,
                               groups=decision_groups(ctx, principal.name),  # directory users: checked now
                               reauth=reauth, signing=signing_rules(ctx))
    return with_signatures(ctx, [request.to_dict()])[0]
