"""`/api/v1/users`: local users and their groups (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from pydantic import Field, SecretStr

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import context, require
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import MODEL_NAME, Page, UserPublic, _In
from signoff.domain.people import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from signoff.services import accounts, people

router = api_router("users")

AccountName = Annotated[str, Field(pattern=MODEL_NAME)]


class UserCreate(_In):
    name: AccountName
    groups: list[AccountName] = Field(default_factory=list, max_length=100)
    email: Annotated[str, Field(max_length=256)] | None = None
    password: Annotated[SecretStr, Field(min_length=1, max_length=1024)] | None = None
    admin: bool = False


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


UserPath = Annotated[str, Path(pattern=MODEL_NAME, description="The user name")]


class UserDisable(_In):
    reason: Annotated[str, Field(max_length=256)] = ""


class GroupsUpdate(_In):
    groups: list[AccountName] = Field(max_length=100)


class PasswordUpdate(_In):
    password: Annotated[SecretStr, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]


def forget_user(app: FastAPI, name: str) -> None:
    """Drop what this process cached about `name` (tokens, directory groups): the change applies here at
    once, and in other processes within `[server] token_cache_seconds`."""
    app.state.verifier.forget()
    directory = app.state.ctx.directory
    if directory is not None:
        directory.forget(name)


@router.get("/users/{name}", response_model=UserPublic)
def get_user(name: UserPath, principal: Principal = Depends(require("admin")),
             ctx: Context = Depends(context)) -> dict[str, Any]:
    """One user: groups, source and state. Scope: admin."""
    return accounts.get_user(uow=ctx.uow(), name=name)


@router.post("/users/{name}/disable", response_model=UserPublic)
def disable_user(name: UserPath, request: Request, body: UserDisable | None = None,
                 principal: Principal = Depends(require("admin")), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Disable a user: no sign-in, their web sessions end and their API tokens are revoked. Scope: admin."""
    out = people.disable_user(uow=ctx.uow(), name=name, actor=principal.name, reason=body.reason if body else "")
    forget_user(request.app, name)
    return out


@router.post("/users/{name}/enable", response_model=UserPublic)
def enable_user(name: UserPath, principal: Principal = Depends(require("admin")),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """Let a disabled user sign in again (their old tokens stay revoked). Scope: admin."""
    return people.enable_user(uow=ctx.uow(), name=name, actor=principal.name)


@router.delete("/users/{name}", response_model=UserPublic)
def delete_user(name: UserPath, request: Request, principal: Principal = Depends(require("admin")),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """Delete a user for good; the name is never given to anyone else. Scope: admin."""
    out = people.delete_user(uow=ctx.uow(), name=name, actor=principal.name)
    forget_user(request.app, name)
    return out


@router.put("/users/{name}/groups", response_model=UserPublic)
def set_groups(name: UserPath, body: GroupsUpdate, principal: Principal = Depends(require("admin")),
               ctx: Context = Depends(context)) -> dict[str, Any]:
    """Replace a local user's groups (config and directory users get theirs elsewhere). Scope: admin."""
    return accounts.set_groups(uow=ctx.uow(), name=name, groups=list(body.groups), actor=principal.name)


@router.put("/users/{name}/password", response_model=UserPublic)
def set_password(name: UserPath, body: PasswordUpdate, principal: Principal = Depends(require("admin")),
                 ctx: Context = Depends(context)) -> dict[str, Any]:
    """Set a local user's password; their web sessions end. Scope: admin."""
    from signoff.adapters.passwords import hash_password

    password = people.check_password(body.password.get_secret_value())
    return people.set_password(uow=ctx.uow(), name=name, password_hash=hash_password(password), actor=principal.name)
