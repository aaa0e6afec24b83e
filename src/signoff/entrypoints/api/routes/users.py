"""`/api/v1/users`: local users and their groups (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from signoff.bootstrap import Context
from signoff.entrypoints.api.deps import context, require
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import MODEL_NAME, Page, _In
from signoff.services import accounts
from signoff.services.tokens import Principal

router = api_router("users")

AccountName = Annotated[str, Field(pattern=MODEL_NAME)]


class UserCreate(_In):
    name: AccountName
    groups: list[AccountName] = Field(default_factory=list, max_length=100)
    email: Annotated[str, Field(max_length=256)] | None = None
    password: Annotated[SecretStr, Field(min_length=1, max_length=1024)] | None = None
    admin: bool = False


class UserPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    email: str | None
    groups: list[str]
    admin: bool
    disabled: bool
    source: str


@router.get("/users", response_model=Page[UserPublic])
def list_users(principal: Principal = Depends(require("admin")), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Users and their groups. Scope: admin."""
    return {"items": accounts.list_users(uow=ctx.read_uow()), "next_cursor": None}


@router.post("/users", status_code=201, response_model=UserPublic)
def add_user(body: UserCreate, principal: Principal = Depends(require("admin")),
             ctx: Context = Depends(context)) -> dict[str, Any]:
    """Add a local user with groups (and a password for web sign-in). Scope: admin."""
    password_hash = None
    if body.password is not None:
        from signoff.adapters.passwords import hash_password

        password_hash = hash_password(body.password.get_secret_value())
    return accounts.add_user(uow=ctx.uow(), name=body.name, actor=principal.name, groups=body.groups,
                             email=body.email, password_hash=password_hash, admin=body.admin)
