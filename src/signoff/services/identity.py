"""Signing in through identity providers, and group membership that stays current.

Providers are asked in the configured order (`[auth] providers`). A password provider answers
`None` for a name it does not know, so the next one is asked; the first that knows the name
decides. A provider that is down is skipped, so local accounts keep working while the directory
is away, and the sign-in ends in ServiceUnavailable only when nobody else knew the name.

Directory users (`source` = "ldap" or "oidc") have their memberships rewritten at every
sign-in, and re-checked at decision time when the last check is older than `membership_ttl`:
someone removed from a directory group loses the right to decide within that time, without a
restart. When the check cannot be made, the decision is refused (fail closed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Protocol

from signoff.domain import people
from signoff.domain.identity import DIRECTORY_PROVIDERS, Identity
from signoff.errors import AuthenticationFailed, PermissionDenied, ServiceUnavailable
from signoff.services.accounts import record_change
from signoff.services.ports import PasswordCheck, UnitOfWork
from signoff.services.records import UserRecord

log = logging.getLogger("signoff.identity")

BAD_CREDENTIALS = "invalid user name or password"
LOCAL_SOURCES = ("local", "config")


class PasswordProvider(Protocol):
    """Checks a name and password. None: "not one of mine". Raises AuthenticationFailed, ServiceUnavailable."""

    name: str

    def authenticate(self, username: str, password: str) -> Identity | None: ...


class MembershipSource(Protocol):
    """Current signoff groups of a user it vouched for. Raises ServiceUnavailable, AuthenticationFailed."""

    name: str

    def current_groups(self, user: str) -> frozenset[str]: ...


class LocalProvider:
    """Local and config accounts with argon2 password hashes in the users table."""

    name = "local"

    def __init__(self, uow: Callable[[], UnitOfWork], verify_password: PasswordCheck) -> None:
        self._uow = uow
        self._verify = verify_password

    def authenticate(self, username: str, password: str) -> Identity | None:
        name = username.strip().lower()
        with self._uow() as uow:
            row = uow.users.find(name) if name else None
            if row is None or row.source not in LOCAL_SOURCES:
                self._verify(None, password)  # same cost as a wrong password
                return None
            ok = self._verify(row.password_hash, password)
            if not ok or row.disabled:
                raise AuthenticationFailed(BAD_CREDENTIALS)
            groups = frozenset(uow.users.groups_of(row.name))
            return Identity(row.name, self.name, groups, row.email, row.display_name)


class Directory:
    """The identity providers of one process, and how long a directory membership is trusted."""

    def __init__(self, *, providers: Sequence[PasswordProvider], sources: Mapping[str, MembershipSource],
                 ttl: timedelta, sso: object | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.providers = list(providers)
        self.sources = dict(sources)
        self.sso = sso  # the OIDC provider when configured (adapters/oidc.py)
        self.ttl = ttl.total_seconds()
        self._monotonic = monotonic
        self._checked: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.providers] + (["oidc"] if self.sso is not None else [])

    def cached(self, user: str) -> frozenset[str] | None:
        """Groups confirmed by the directory within the last `ttl` seconds, else None."""
        with self._lock:
            hit = self._checked.get(user)
        if hit is None or self._monotonic() - hit[0] >= self.ttl:
            return None
        return hit[1]

    def remember(self, user: str, groups: frozenset[str]) -> None:
        with self._lock:
            self._checked[user] = (self._monotonic(), groups)

    def forget(self, user: str | None = None) -> None:
        with self._lock:
            if user is None:
                self._checked.clear()
            else:
                self._checked.pop(user, None)

    def close(self) -> None:
        for thing in [*self.providers, *self.sources.values()]:
            closer = getattr(thing, "close", None)
            if callable(closer):
                closer()


def sign_in(*, uow: UnitOfWork, directory: Directory, username: str, password: str) -> Identity:
    """Authenticate with the first provider that knows `username` and refresh the user's groups.

    Raises AuthenticationFailed (wrong or unknown credentials, one message for both) and
    ServiceUnavailable (a provider that might have known the name is down).
    """
    down: ServiceUnavailable | None = None
    for provider in directory.providers:
        try:
            identity = provider.authenticate(username, password)
        except ServiceUnavailable as exc:
            log.warning("sign-in: provider %s unavailable: %s", provider.name, exc.message)
            down = down or exc
            continue
        if identity is None:
            continue
        if identity.provider in DIRECTORY_PROVIDERS:
            record_identity(uow=uow, identity=identity)
            directory.remember(identity.name, identity.groups)
        return identity
    if down is not None:
        raise ServiceUnavailable(f"cannot sign in right now: {down.message}", details=down.details)
    raise AuthenticationFailed(BAD_CREDENTIALS)


def record_identity(*, uow: UnitOfWork, identity: Identity) -> None:
    """Create or update the user a directory vouched for, memberships included; raises AuthenticationFailed."""
    actor = f"signoff:{identity.provider}"
    groups = sorted(identity.groups)
    with uow:
        row = uow.users.find(identity.name)
        if row is None:
            row = uow.users.add(name=identity.name, email=identity.email, display_name=identity.display_name,
                                password_hash=None, is_admin=False, source=identity.provider,
                                created_at=uow.clock.now())
            uow.users.set_groups(row, groups)
            record_change(uow, actor=actor, action="user.created", event_type=people.USER_CREATED,
                          name=identity.name, after={"source": identity.provider, "groups": groups})
            uow.commit()
            return
        if row.source != identity.provider:
            # Never let a directory take over an account that signs in some other way.
            raise AuthenticationFailed(
                f"the user name {identity.name!r} belongs to a {row.source} account in signoff, not to "
                f"{identity.provider}; ask an administrator", details={"user": identity.name})
        if row.disabled:
            raise AuthenticationFailed(f"user {identity.name!r} is disabled in signoff", details={"user": identity.name})
        if identity.email and row.email != identity.email:
            row.email = identity.email
        if identity.display_name and row.display_name != identity.display_name:
            row.display_name = identity.display_name
        _store_groups(uow, row, groups, actor)
        uow.commit()


def groups_for_decision(*, uow: UnitOfWork, directory: Directory, user: str) -> set[str] | None:
    """Current groups of a directory user (None for local users: theirs are in the database).

    Raises ServiceUnavailable when the directory cannot be asked (the decision must then not be
    made), AuthenticationFailed for unknown or disabled users, PermissionDenied when the user's
    provider is no longer configured.
    """
    with uow:
        row = uow.users.find(user)
        if row is None or row.disabled:
            raise AuthenticationFailed(f"unknown or disabled user {user!r}", details={"user": user})
        source = row.source
    if source not in DIRECTORY_PROVIDERS:
        return None
    cached = directory.cached(user)
    if cached is not None:
        return set(cached)
    membership = directory.sources.get(source)
    if membership is None:
        raise PermissionDenied(f"{user!r} signs in through {source}, which this server no longer uses; "
                               "their groups cannot be checked", details={"user": user, "source": source})
    try:
        groups = membership.current_groups(user)
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(f"{exc.message}; a decision needs a current check of your groups, so none "
                                 "can be recorded now", details={**exc.details, "user": user}) from None
    with uow:
        _store_groups(uow, uow.users.row(user), sorted(groups), f"signoff:{source}")
        uow.commit()
    directory.remember(user, groups)
    return set(groups)


def _store_groups(uow: UnitOfWork, row: UserRecord, groups: list[str], actor: str) -> None:
    before = sorted(uow.users.groups_of(row.name))
    if before != groups:
        uow.users.set_groups(row, groups)
        record_change(uow, actor=actor, action="user.groups_changed", event_type=people.USER_GROUPS_CHANGED,
                      name=row.name, before=before, after=groups)
