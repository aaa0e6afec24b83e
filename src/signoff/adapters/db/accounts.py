"""Users, groups and memberships."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.results import rowcount
from signoff.adapters.db.tables import GroupRow, MembershipRow, TokenRow, UserRow, WebSessionRow
from signoff.errors import AlreadyExists, NotFound
from signoff.services.records import GroupRecord, UserRecord

_USER = select(UserRow).where(UserRow.name == bindparam("name"))
_GROUPS_OF = (
    select(GroupRow.name)
    .join(MembershipRow, MembershipRow.group_id == GroupRow.id)
    .join(UserRow, UserRow.id == MembershipRow.user_id)
    .where(UserRow.name == bindparam("name"))
)


# Built once: every approval email asks for the members of the approver groups.
_MEMBERS_OF = (
    select(UserRow)
    .join(MembershipRow, MembershipRow.user_id == UserRow.id)
    .join(GroupRow, GroupRow.id == MembershipRow.group_id)
    .where(GroupRow.name.in_(bindparam("groups", expanding=True)), UserRow.disabled.is_(False))
    .distinct()
    .order_by(UserRow.name)
)


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self) -> None:
        """Hold the config users' sync until the transaction ends: processes starting together on
        PostgreSQL would otherwise all insert the same users (SQLite's writers queue anyway)."""
        pg_locks.hold(self.session, pg_locks.STARTUP_SYNC, "users")

    def find(self, name: str) -> UserRecord | None:
        return self.session.scalar(_USER, {"name": name})

    def by_id(self, user_id: int) -> UserRecord:
        row = self.session.get(UserRow, user_id)
        if row is None:
            raise NotFound(f"user id {user_id} not found")
        return row

    def row(self, name: str) -> UserRecord:
        row = self.find(name)
        if row is None:
            raise NotFound(f"user {name!r} not found", details={"user": name})
        return row

    def add(self, *, name: str, email: str | None, password_hash: str | None, is_admin: bool, source: str,
            created_at: datetime, display_name: str | None = None) -> UserRecord:
        """A new, enabled user; raises AlreadyExists."""
        row = UserRow(name=name, email=email, display_name=display_name, password_hash=password_hash,
                      is_admin=is_admin, disabled=False, source=source, created_at=created_at)
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"user {row.name!r} already exists", details={"user": row.name}) from None
        return row

    def groups_of(self, name: str) -> set[str]:
        return set(self.session.scalars(_GROUPS_OF, {"name": name}))

    def members_of(self, groups: list[str]) -> list[UserRecord]:
        return list(self.session.scalars(_MEMBERS_OF, {"groups": list(groups)}))

    def group(self, name: str) -> GroupRecord:
        row = self.session.scalar(select(GroupRow).where(GroupRow.name == name))
        if row is None:
            row = GroupRow(name=name)
            self.session.add(row)
            self.session.flush()
        return row

    def set_groups(self, user: UserRecord, groups: list[str]) -> None:
        self.session.flush()
        self.session.execute(delete(MembershipRow).where(MembershipRow.user_id == user.id))
        for name in sorted(set(groups)):
            self.session.add(MembershipRow(user_id=user.id, group_id=self.group(name).id))

    def list(self) -> list[tuple[UserRecord, set[str]]]:
        users = list(self.session.scalars(select(UserRow).order_by(UserRow.name)))
        return [(u, self.groups_of(u.name)) for u in users]

    def of_source(self, source: str) -> builtins.list[UserRecord]:
        return list(self.session.scalars(select(UserRow).where(UserRow.source == source).order_by(UserRow.name)))

    def revoke_tokens(self, user: UserRecord, now: datetime) -> int:
        """Revoke every live API token of `user`; returns how many."""
        result = self.session.execute(update(TokenRow).where(TokenRow.user_id == user.id, TokenRow.revoked_at.is_(None))
                                      .values(revoked_at=now))
        return rowcount(result)

    def end_sessions(self, user: UserRecord) -> int:
        """Delete every web session of `user` (their cookies stop working at once); returns how many."""
        result = self.session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user.id))
        return rowcount(result)
