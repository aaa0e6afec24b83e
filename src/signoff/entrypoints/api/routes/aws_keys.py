"""`/api/v1/aws-keys`: AWS access keys for the SigV4 doors, created (secret shown once), listed and
revoked (admin scope), as `/api/v1/tokens` does for API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator, Field

from signoff.adapters.aws_secrets import SecretBox
from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import context, require
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import AwsKeyCreated, AwsKeyPublic, MODEL_NAME, Page, _In, _whole
from signoff.services import aws_keys

router = api_router("aws-keys")

Scope = Literal["register", "resolve", "report", "decide", "admin"]


class AwsKeyCreate(_In):
    user: Annotated[str, Field(pattern=MODEL_NAME)]
    scopes: list[Scope] | None = Field(default=None, min_length=1, max_length=5,
                                       description="Default: register, resolve, report, decide")
    expires_in_seconds: Annotated[int, Field(ge=1, le=10 * 365 * 86400), BeforeValidator(_whole)] | None = None
    name: Annotated[str, Field(max_length=128)] = ""


@router.post("/aws-keys", status_code=201, response_model=AwsKeyCreated)
def create_aws_key(body: AwsKeyCreate, principal: Principal = Depends(require("admin")),
                   ctx: Context = Depends(context)) -> dict[str, Any]:
    """Issue an AWS access key pair acting as a user; the secret appears only here. Scope: admin."""
    expires = timedelta(seconds=body.expires_in_seconds) if body.expires_in_seconds else None
    secret, info = aws_keys.create_key(
        uow=ctx.uow(), sealer=SecretBox(ctx.settings.server.secret_key.get_secret_value()), user=body.user,
        actor=principal.name, scopes=list(body.scopes or []), expires_in=expires, name=body.name)
    return {**info, "secret_access_key": secret}


@router.get("/aws-keys", response_model=Page[AwsKeyPublic])
def list_aws_keys(user: str | None = Query(None, max_length=128), principal: Principal = Depends(require("admin")),
                  ctx: Context = Depends(context)) -> dict[str, Any]:
    """AWS keys (never their secret), oldest first. Scope: admin."""
    return {"items": aws_keys.list_keys(uow=ctx.uow(), user=user or None), "next_cursor": None}


@router.delete("/aws-keys/{key}", response_model=AwsKeyPublic)
def revoke_aws_key(request: Request, key: Annotated[str, Path(pattern=r"^([0-9]{1,9}|[A-Z0-9]{16,32})$")],
                   principal: Principal = Depends(require("admin")), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Revoke a key by id or access key id: this server refuses it at once, others within
    `[aws] key_cache_seconds`. Scope: admin."""
    info = aws_keys.revoke_key(uow=ctx.uow(), key=int(key) if key.isdigit() else key, actor=principal.name)
    verifier = getattr(request.app.state, "aws_keys", None)
    if verifier is not None:
        verifier.forget()
    return info
