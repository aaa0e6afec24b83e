"""`/api/v1/models`: create and list models."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import MAX_PAGE, context, current_principal, next_cursor, require
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import ModelCreate, ModelPublic, Page
from signoff.services import registry

router = api_router("models")


@router.post("/models", status_code=201, response_model=ModelPublic)
def create_model(body: ModelCreate, principal: Principal = Depends(require("register")),
                 ctx: Context = Depends(context)) -> dict[str, Any]:
    """Create a model before its first version (registering a version creates it too). Scope: register."""
    model = registry.create_model(uow=ctx.uow(), name=body.name, actor=principal.name, description=body.description,
                                  owner_group=body.owner_group, tags=body.tags)
    return model.to_dict()


@router.get("/models", response_model=Page[ModelPublic])
def list_models(cursor: str | None = Query(None, max_length=128), limit: int = Query(100, ge=1, le=MAX_PAGE),
                principal: Principal = Depends(current_principal), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Models by name."""
    items = [m.to_dict() for m in registry.list_models(uow=ctx.read_uow(), after=cursor or None, limit=limit)]
    return {"items": items, "next_cursor": next_cursor(items, limit, "name")}


@router.get("/models/{model}", response_model=ModelPublic)
def get_model(model: str, principal: Principal = Depends(current_principal),
              ctx: Context = Depends(context)) -> dict[str, Any]:
    """One model."""
    return registry.get_model(uow=ctx.read_uow(), model=model).to_dict()
