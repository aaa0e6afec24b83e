"""An account's life after creation: disable, enable, delete, set a password.

Disabling or deleting ends everything the person holds at once: their web sessions are deleted
(the next page view is signed out) and their API tokens revoked (servers notice within
`[server] token_cache_seconds`). Re-enabling brings none of them back. A deleted account keeps
its row, so its name is never given to anyone else.
"""

from __future__ import annotations

from typing import Any

from signoff.domain import people
from signoff.errors import InvalidInput
from signoff.services.accounts import end_access, live_user, record_change
from signoff.services.identity import LOCAL_SOURCES
from signoff.services.ports import UnitOfWork
from signoff.services.representations import user_to_dict


def _not_yourself(name: str, actor: str, what: str) -> None:
    # An administrator locking themselves out leaves nobody to undo it from the web or the API.
    if name == actor:
        raise InvalidInput(f"you cannot {what} your own account; ask another administrator",
                           details={"user": name})


def disable_user(*, uow: UnitOfWork, name: str, actor: str, reason: str = "") -> dict[str, Any]:
    """Disable a user and end their sessions and tokens; raises NotFound, InvalidInput, InvalidTransition."""
    _not_yourself(name, actor, "disable")
    with uow:
        row = live_user(uow, name)
        if not row.disabled:
            row.disabled, row.disabled_reason = True, (reason.strip()[:256] or f"disabled by {actor}")
            ended = end_access(uow, row)
            record_change(uow, actor=actor, action="user.disabled", event_type=people.USER_DISABLED, name=name,
                          after={"reason": row.disabled_reason, **ended})
        out = user_to_dict(row, uow.users.groups_of(name))
        uow.commit()
    return out


def enable_user(*, uow: UnitOfWork, name: str, actor: str) -> dict[str, Any]:
    """Let a disabled user sign in again (with new tokens); raises NotFound, InvalidTransition (deleted)."""
    with uow:
        row = live_user(uow, name)
        if row.disabled:
            before = row.disabled_reason
            row.disabled, row.disabled_reason = False, None
            record_change(uow, actor=actor, action="user.enabled", event_type=people.USER_ENABLED, name=name,
                          before={"reason": before})
        out = user_to_dict(row, uow.users.groups_of(name))
        uow.commit()
    return out


def delete_user(*, uow: UnitOfWork, name: str, actor: str) -> dict[str, Any]:
    """Delete a user for good: no sign-in, groups, password, tokens or sessions; the name stays taken.

    Raises NotFound, InvalidInput (yourself), InvalidTransition (already deleted).
    """
    _not_yourself(name, actor, "delete")
    with uow:
        row = live_user(uow, name)
        groups = sorted(uow.users.groups_of(name))
        ended = end_access(uow, row)
        uow.users.set_groups(row, [])
        row.disabled, row.disabled_reason = True, f"deleted by {actor}"
        row.password_hash, row.is_admin = None, False
        row.deleted_at = uow.clock.now()
        record_change(uow, actor=actor, action="user.deleted", event_type=people.USER_DELETED, name=name,
                      before={"groups": groups, "source": row.source}, after=ended)
        out = user_to_dict(row, set())
        uow.commit()
    return out


check_password = people.check_password  # the CLI checks before it asks anything of a server


def set_password(*, uow: UnitOfWork, name: str, password_hash: str, actor: str) -> dict[str, Any]:
    """Replace a local user's password and end their web sessions (their tokens stay).

    `password_hash` comes from `check_password` then `hash_password`. Raises NotFound,
    InvalidInput (a directory user), InvalidTransition (deleted).
    """
    with uow:
        row = live_user(uow, name)
        if row.source not in LOCAL_SOURCES:
            raise InvalidInput(f"{name!r} signs in through {row.source}; change the password there",
                               details={"user": name, "source": row.source})
        row.password_hash = password_hash
        sessions = uow.users.end_sessions(row) if actor != name else 0
        record_change(uow, actor=actor, action="user.password_changed", event_type=people.USER_PASSWORD_CHANGED,
                      name=name, after={"sessions_ended": sessions})
        out = user_to_dict(row, uow.users.groups_of(name))
        uow.commit()
    return out

