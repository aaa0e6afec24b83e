"""`/api/v1/tokens`: API tokens, created (shown once), listed and revoked (admin scope)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator, Field

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.domain.models import INT32_MAX
from signoff.entrypoints.api.deps import context, require
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import MODEL_NAME, Page, TokenCreated, TokenPublic, _In, _whole
from signoff.services import tokens

router = api_router("tokens")

Scope = Literal["register", "resolve", "report", "decide", "rules", "admin"]


class TokenCreate(_In):
    user: Annotated[str, Field(pattern=MODEL_NAME)]
    scopes: list[Scope] = Field(min_length=1, max_length=5)
    expires_in_seconds: Annotated[int, Field(ge=1, le=10 * 365 * 86400), BeforeValidator(_whole)] | None = None
    name: Annotated[str, Field(max_length=128)] = ""


@router.post("/tokens", status_code=201, response_model=TokenCreated)
def create_token(body: TokenCreate, principal: Principal = Depends(require("admin")),
                 ctx: Context = Depends(context)) -> dict[str, Any]:
    """Create a token for a user; the response is the only place the token appears. Scope: admin."""
    expires = timedelta(seconds=body.expires_in_seconds) if body.expires_in_seconds else None
    token, info = tokens.create_token(uow=ctx.uow(), user=body.user, scopes=list(body.scopes), actor=principal.name,
                                      expires_in=expires, name=body.name)
    return {**info, "token": token}


@router.get("/tokens", response_model=Page[TokenPublic])
def list_tokens(user: str | None = Query(None, max_length=128), principal: Principal = Depends(require("admin")),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """Tokens (never their secret), oldest first. Scope: admin."""
    return {"items": tokens.list_tokens(uow=ctx.read_uow(), user=user or None), "next_cursor": None}


@router.delete("/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(request: Request, token_id: Annotated[int, Path(ge=1, le=INT32_MAX)],
                 principal: Principal = Depends(require("admin")), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Revoke a token: this server refuses it at once, others within their token cache time. Scope: admin."""
    info = tokens.revoke_token(uow=ctx.uow(), token_id=token_id, actor=principal.name)
    request.app.state.verifier.forget()
    return info
