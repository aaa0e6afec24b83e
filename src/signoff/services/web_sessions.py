"""Sign-in for the web UI: local accounts (argon2), server-side sessions, one CSRF token each.

A session id is 256 random bits handed to the browser once; only its SHA-256 is stored, so a
leaked database does not leak sessions. Signing in always creates a *new* id and deletes the
one the browser came with (no session fixation); signing out deletes the row, so the old
cookie stops working everywhere at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from signoff.errors import AuthenticationFailed
from signoff.services.ports import PasswordCheck, UnitOfWork

SESSION_LIFETIME = timedelta(hours=12)
# Every web user acts as a person: these are what a person may do; admins may do everything.
PERSON_SCOPES = frozenset({"register", "resolve", "report", "decide"})


@dataclass(frozen=True)
class WebUser:
    name: str
    email: str | None
    display_name: str | None
    groups: frozenset[str]
    admin: bool
    csrf_token: str
    scopes: frozenset[str] = field(default=PERSON_SCOPES)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def sign_in(
    *, uow: UnitOfWork, name: str, password: str, verify_password: PasswordCheck,
    previous_session: str | None = None, user_agent: str = "", lifetime: timedelta = SESSION_LIFETIME,
) -> tuple[str, WebUser]:
    """Check a local account's password and open a fresh session; raises AuthenticationFailed (one message for every cause)."""
    with uow:
        user = uow.users.find(name.strip()) if name.strip() else None
        # verify_password hashes even without an account, so a wrong name costs what a wrong password does.
        ok = verify_password(user.password_hash if user is not None else None, password)
        if user is None or not ok or user.disabled:
            raise AuthenticationFailed("unknown user or wrong password")
        account = user.name
    return open_session(uow=uow, user=account, previous_session=previous_session, user_agent=user_agent,
                        lifetime=lifetime)


def open_session(
    *, uow: UnitOfWork, user: str, previous_session: str | None = None, user_agent: str = "",
    lifetime: timedelta = SESSION_LIFETIME, via: str = "local",
) -> tuple[str, WebUser]:
    """A new session for `user`, already authenticated (password, directory, SSO): always a fresh id,
    and the browser's previous session is deleted. Raises NotFound, AuthenticationFailed (disabled)."""
    with uow:
        row_user = uow.users.row(user)
        if row_user.disabled:
            raise AuthenticationFailed("unknown user or wrong password")
        repo = uow.web_sessions
        if previous_session:
            repo.delete(session_hash(previous_session))
        now = uow.clock.now()
        repo.delete_expired(now)
        session_id = secrets.token_urlsafe(32)
        row = repo.add(session_hash=session_hash(session_id), user_id=row_user.id,
                       csrf_token=secrets.token_urlsafe(32), created_at=now, expires_at=now + lifetime,
                       user_agent=user_agent[:256])
        web_user = WebUser(row_user.name, row_user.email, row_user.display_name,
                           frozenset(uow.users.groups_of(row_user.name)), bool(row_user.is_admin), row.csrf_token)
        uow.record(actor=row_user.name, action="user.signed_in", subject=f"users/{row_user.name}", model=None,
                   after={"via": via, "expires_at": row.expires_at.isoformat()})
        uow.commit()
    return session_id, web_user


def current_user(*, uow: UnitOfWork, session_id: str) -> WebUser | None:
    """The user behind a live session id, or None (unknown, expired, or the user is disabled). Read-only."""
    with uow:
        found = uow.web_sessions.find(session_hash(session_id))
        if found is None:
            return None
        row, user = found
        if uow.clock.now() >= row.expires_at or user.disabled:
            return None
        return WebUser(user.name, user.email, user.display_name, frozenset(uow.users.groups_of(user.name)),
                       bool(user.is_admin), row.csrf_token)


def sign_out(*, uow: UnitOfWork, session_id: str) -> None:
    """End the session everywhere (idempotent)."""
    with uow:
        found = uow.web_sessions.find(session_hash(session_id))
        if found is not None:
            uow.web_sessions.delete(found[0].session_hash)
            uow.record(actor=found[1].name, action="user.signed_out", subject=f"users/{found[1].name}", model=None,
                       after={"via": "web"})
        uow.commit()
