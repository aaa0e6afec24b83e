"""Users, groups and memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.tables import GroupRow, MembershipRow, TokenRow, UserRow, WebSessionRow
from signoff.domain.people import account_state
from signoff.errors import AlreadyExists, NotFound

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

    def find(self, name: str) -> UserRow | None:
        return self.session.scalar(_USER, {"name": name})

    def row(self, name: str) -> UserRow:
        row = self.find(name)
        if row is None:
            raise NotFound(f"user {name!r} not found", details={"user": name})
        return row

    def add(self, row: UserRow) -> UserRow:
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"user {row.name!r} already exists", details={"user": row.name}) from None
        return row

    def groups_of(self, name: str) -> set[str]:
        return set(self.session.scalars(_GROUPS_OF, {"name": name}))

    def members_of(self, groups: list[str]) -> list[UserRow]:
        return list(self.session.scalars(_MEMBERS_OF, {"groups": list(groups)}))

    def group(self, name: str) -> GroupRow:
        row = self.session.scalar(select(GroupRow).where(GroupRow.name == name))
        if row is None:
            row = GroupRow(name=name)
            self.session.add(row)
            self.session.flush()
        return row

    def set_groups(self, user: UserRow, groups: list[str]) -> None:
        self.session.flush()
        self.session.execute(delete(MembershipRow).where(MembershipRow.user_id == user.id))
        for name in sorted(set(groups)):
            self.session.add(MembershipRow(user_id=user.id, group_id=self.group(name).id))

    def list(self) -> list[tuple[UserRow, set[str]]]:
        users = list(self.session.scalars(select(UserRow).order_by(UserRow.name)))
        return [(u, self.groups_of(u.name)) for u in users]

    def of_source(self, source: str) -> list[UserRow]:
        return list(self.session.scalars(select(UserRow).where(UserRow.source == source).order_by(UserRow.name)))

    def revoke_tokens(self, user: UserRow, now: datetime) -> int:
        """Revoke every live API token of `user`; returns how many."""
        result = self.session.execute(update(TokenRow).where(TokenRow.user_id == user.id, TokenRow.revoked_at.is_(None))
                                      .values(revoked_at=now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def end_sessions(self, user: UserRow) -> int:
        """Delete every web session of `user` (their cookies stop working at once); returns how many."""
        result = self.session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user.id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def user_to_dict(row: UserRow, groups: set[str]) -> dict[str, object]:
    return {
        "name": row.name,
        "email": row.email,
        "display_name": row.display_name,
        "groups": sorted(groups),
        "admin": row.is_admin,
        "disabled": row.disabled,
        "state": account_state(disabled=bool(row.disabled), deleted=row.deleted_at is not None),
        "disabled_reason": row.disabled_reason if row.disabled else None,
        "source": row.source,
        "created_at": row.created_at.isoformat() if isinstance(row.created_at, datetime) else None,
        "deleted_at": row.deleted_at.isoformat() if isinstance(row.deleted_at, datetime) else None,
    }
