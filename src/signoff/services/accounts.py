"""Accounts: users and their groups (local, or seeded from configuration).

Every change is one transaction with its audit entry and its `signoff.user.*` event. The
account's life after creation (disable, enable, delete, password) is in services/people.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from signoff.domain import people
from signoff.domain.events import Event
from signoff.domain.models import MODEL_NAME
from signoff.errors import AlreadyExists, InvalidInput, InvalidTransition
from signoff.services.ports import UnitOfWork
from signoff.services.records import UserRecord
from signoff.services.representations import user_to_dict

log = logging.getLogger("signoff.accounts")

CONFIG_ACTOR = "signoff:config"


def _check_name(name: str, what: str) -> None:
    if not MODEL_NAME.fullmatch(name or ""):
        raise InvalidInput(f"invalid {what} name {name!r}: use a-z 0-9 . _ -", details={"field": what})


def end_access(uow: UnitOfWork, row: UserRecord) -> dict[str, int]:
    """Revoke the user's tokens and end their web sessions inside the caller's transaction."""
    return {"tokens_revoked": uow.users.revoke_tokens(row, uow.clock.now()),
            "sessions_ended": uow.users.end_sessions(row)}


def record_change(uow: UnitOfWork, *, actor: str, action: str, event_type: str, name: str,
                  before: Any = None, after: Any = None) -> None:
    """The audit entry and the event of one change to user `name` (written by the same commit)."""
    subject = f"users/{name}"
    uow.record(actor=actor, action=action, subject=subject, model=None, before=before, after=after)
    uow.emit(Event(event_type, subject, {"user": name, "actor": actor, "before": before, "after": after}))


def live_user(uow: UnitOfWork, name: str) -> UserRecord:
    """The user row, refusing deleted accounts; raises NotFound, InvalidTransition."""
    row = uow.users.row(name)
    if row.deleted_at is not None:
        raise InvalidTransition(f"user {name!r} was deleted", details={"user": name, "state": people.DELETED})
    return row


def add_user(
    *, uow: UnitOfWork, name: str, actor: str, groups: list[str] | None = None, email: str | None = None,
    password_hash: str | None = None, admin: bool = False, source: str = "local",
) -> dict[str, Any]:
    """Create a user with groups; raises InvalidInput, AlreadyExists (also for a deleted user's name)."""
    _check_name(name, "user")
    for g in groups or []:
        _check_name(g, "group")
    with uow:
        _name_free(uow, name)
        row = uow.users.add(name=name, email=email, password_hash=password_hash, is_admin=admin, source=source,
                            created_at=uow.clock.now())
        uow.users.set_groups(row, groups or [])
        out = user_to_dict(row, set(groups or []))
        record_change(uow, actor=actor, action="user.created", event_type=people.USER_CREATED, name=name,
                      after={k: out[k] for k in ("groups", "email", "admin", "source")})
        uow.commit()
    return out


def _name_free(uow: UnitOfWork, name: str) -> None:
    row = uow.users.find(name)
    if row is not None and row.deleted_at is not None:
        raise AlreadyExists(f"the name {name!r} belonged to a deleted user; names are never reused, so that "
                            "the audit log's entries keep naming one person", details={"user": name})


def set_groups(*, uow: UnitOfWork, name: str, groups: list[str], actor: str) -> dict[str, Any]:
    """Replace a user's groups; raises NotFound, InvalidInput (directory user), InvalidTransition (deleted).

    A config user's groups are set again from `[users.NAME]` at the next start.
    """
    for g in groups:
        _check_name(g, "group")
    groups = sorted(set(groups))
    with uow:
        row = live_user(uow, name)
        if row.source not in ("local", "config"):
            raise InvalidInput(f"{name!r} signs in through {row.source}; their groups come from the directory "
                               "(group_map)", details={"user": name, "source": row.source})
        before = sorted(uow.users.groups_of(name))
        if before != groups:
            uow.users.set_groups(row, groups)
            record_change(uow, actor=actor, action="user.groups_changed", event_type=people.USER_GROUPS_CHANGED,
                          name=name, before=before, after=groups)
        out = user_to_dict(row, set(groups))
        uow.commit()
        return out


def list_users(*, uow: UnitOfWork) -> list[dict[str, Any]]:
    with uow:
        return [user_to_dict(u, g) for u, g in uow.users.list()]


def get_user(*, uow: UnitOfWork, name: str) -> dict[str, Any]:
    """One user; raises NotFound."""
    with uow:
        row = uow.users.row(name)
        return user_to_dict(row, uow.users.groups_of(name))


def sync_config_users(
    *, uow: UnitOfWork, users: dict[str, dict[str, Any]], hash_password: Callable[[str], str],
    retire: bool = False,
) -> list[str]:
    """Make config-declared users exist with exactly the configured groups (idempotent).

    With `retire` (a server starting), config users no longer declared are disabled: a departed
    approver removed from the file loses the right to sign off at the next start. Returns the
    names disabled now. A declared name that was deleted stays deleted (names are never reused).
    A `password` is hashed only when the user is created: hashing is deliberately slow, and
    this runs at every start-up.
    """
    if not users and not retire:
        return []
    retired: list[str] = []
    with uow:
        uow.users.lock()
        for name, spec in users.items():
            _check_name(name, "user")
            row = uow.users.find(name)
            groups = sorted(spec.get("groups", []))
            if row is None:
                password = spec.get("password")
                row = uow.users.add(name=name, email=spec.get("email"),
                                    password_hash=hash_password(password) if password else None,
                                    is_admin=bool(spec.get("admin")), source="config", created_at=uow.clock.now())
                uow.users.set_groups(row, groups)
                record_change(uow, actor=CONFIG_ACTOR, action="user.created", event_type=people.USER_CREATED,
                              name=name, after={"groups": groups, "source": "config"})
                continue
            if row.deleted_at is not None:
                log.warning("config key users.%s: that user was deleted and names are never reused; ignored", name)
                continue
            if row.disabled and row.source == "config" and row.disabled_reason == people.REMOVED_FROM_CONFIG:
                row.disabled, row.disabled_reason = False, None
                record_change(uow, actor=CONFIG_ACTOR, action="user.enabled", event_type=people.USER_ENABLED,
                              name=name, after={"reason": "declared in the configuration again"})
            before = sorted(uow.users.groups_of(name))
            if before != groups:
                uow.users.set_groups(row, groups)
                record_change(uow, actor=CONFIG_ACTOR, action="user.groups_changed",
                              event_type=people.USER_GROUPS_CHANGED, name=name, before=before, after=groups)
        if retire:
            for row in uow.users.of_source("config"):
                if row.name in users or row.disabled or row.deleted_at is not None:
                    continue
                row.disabled, row.disabled_reason = True, people.REMOVED_FROM_CONFIG
                ended = end_access(uow, row)
                record_change(uow, actor=CONFIG_ACTOR, action="user.disabled", event_type=people.USER_DISABLED,
                              name=row.name, after={"reason": people.REMOVED_FROM_CONFIG, **ended})
                retired.append(row.name)
        uow.commit()
    for name in retired:
        log.warning("user %s is no longer in the configuration: disabled", name)
    return retired
