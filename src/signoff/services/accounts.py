"""Accounts: users and their groups (local, or seeded from configuration)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from signoff.adapters.db.accounts import user_to_dict
from signoff.adapters.db.tables import UserRow
from signoff.domain.models import MODEL_NAME
from signoff.errors import InvalidInput
from signoff.services.ports import UnitOfWork


def _check_name(name: str, what: str) -> None:
    if not MODEL_NAME.fullmatch(name or ""):
        raise InvalidInput(f"invalid {what} name {name!r}: use a-z 0-9 . _ -", details={"field": what})


def add_user(
    *, uow: UnitOfWork, name: str, actor: str, groups: list[str] | None = None, email: str | None = None,
    password_hash: str | None = None, admin: bool = False, source: str = "local",
) -> dict[str, Any]:
    """Create a user with groups; raises InvalidInput, AlreadyExists."""
    _check_name(name, "user")
    for g in groups or []:
        _check_name(g, "group")
    with uow:
        row = uow.users.add(UserRow(name=name, email=email, password_hash=password_hash, is_admin=admin,
                                    disabled=False, source=source, created_at=uow.clock.now()))
        uow.users.set_groups(row, groups or [])
        out = user_to_dict(row, set(groups or []))
        uow.record(actor=actor, action="user.created", subject=f"users/{name}", model=None, after=out)
        uow.commit()
    return out


def set_groups(*, uow: UnitOfWork, name: str, groups: list[str], actor: str) -> dict[str, Any]:
    """Replace a user's groups; raises NotFound."""
    with uow:
        row = uow.users.row(name)
        before = sorted(uow.users.groups_of(name))
        uow.users.set_groups(row, groups)
        uow.record(actor=actor, action="user.groups_changed", subject=f"users/{name}", model=None,
                   before=before, after=sorted(groups))
        uow.commit()
        return user_to_dict(row, set(groups))


def list_users(*, uow: UnitOfWork) -> list[dict[str, Any]]:
    with uow:
        return [user_to_dict(u, g) for u, g in uow.users.list()]


def sync_config_users(
    *, uow: UnitOfWork, users: dict[str, dict[str, Any]], hash_password: Callable[[str], str]
) -> None:
    """Make config-declared users exist with exactly the configured groups (idempotent).

    A `password` is hashed only when the user is created: hashing is deliberately slow, and
    this runs at every start-up.
    """
    if not users:
        return
    with uow:
        uow.users.lock()
        for name, spec in users.items():
            _check_name(name, "user")
            row = uow.users.find(name)
            groups = sorted(spec.get("groups", []))
            if row is None:
                password = spec.get("password")
                row = uow.users.add(UserRow(name=name, email=spec.get("email"),
                                            password_hash=hash_password(password) if password else None,
                                            is_admin=bool(spec.get("admin")), disabled=False, source="config",
                                            created_at=uow.clock.now()))
                uow.users.set_groups(row, groups)
                uow.record(actor="signoff:config", action="user.created", subject=f"users/{name}", model=None,
                           after={"groups": groups})
            elif sorted(uow.users.groups_of(name)) != groups:
                before = sorted(uow.users.groups_of(name))
                uow.users.set_groups(row, groups)
                uow.record(actor="signoff:config", action="user.groups_changed", subject=f"users/{name}",
                           model=None, before=before, after=groups)
        uow.commit()
