"""The parameter store: versioned values at a path; each live pointer move writes one."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from signoff.adapters.db.tables import ParameterRow
from signoff.domain.events import canonical_json
from signoff.errors import InvalidInput, NotFound

_PARAM_MAX = select(func.max(ParameterRow.version)).where(ParameterRow.name == bindparam("name"))
_PARAM_LATEST = (
    select(ParameterRow).where(ParameterRow.name == bindparam("name")).order_by(ParameterRow.version.desc()).limit(1)
)
_PARAM_VERSION = select(ParameterRow).where(ParameterRow.name == bindparam("name"), ParameterRow.version == bindparam("v"))


def as_stored(value: Any) -> Any:
    """What the value will look like after a JSON round trip through the database."""
    return json.loads(canonical_json(value))


class ParameterRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, name: str, value: dict[str, Any], *, actor: str, at: datetime) -> int:
        check_parameter_name(name)
        current = self.session.scalar(_PARAM_MAX, {"name": name})
        version = int(current or 0) + 1
        self.session.add(ParameterRow(name=name, version=version, value=as_stored(value), created_at=at, created_by=actor))
        return version

    def get(self, name: str, version: int | None = None) -> dict[str, Any]:
        if version is None:
            row = self.session.scalar(_PARAM_LATEST, {"name": name})
        else:
            row = self.session.scalar(_PARAM_VERSION, {"name": name, "v": version})
        if row is None:
            what = f"version {version} of parameter" if version is not None else "parameter"
            raise NotFound(f"{what} {name!r} not found", details={"name": name, "version": version})
        return parameter_to_dict(row)

    def history(self, name: str, *, after: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        stmt = select(ParameterRow).where(ParameterRow.name == name).order_by(ParameterRow.version).limit(limit)
        if after is not None:
            stmt = stmt.where(ParameterRow.version > after)
        rows = [parameter_to_dict(r) for r in self.session.scalars(stmt)]
        if not rows and after is None:
            raise NotFound(f"parameter {name!r} not found", details={"name": name})
        return rows

    def latest_many(self, names: list[str]) -> list[dict[str, Any]]:
        """The latest version of each named parameter that exists, in the order given."""
        if not names:
            return []
        newest = (select(ParameterRow.name, func.max(ParameterRow.version).label("v"))
                  .where(ParameterRow.name.in_(names)).group_by(ParameterRow.name).subquery())
        stmt = select(ParameterRow).join(newest, (ParameterRow.name == newest.c.name) & (ParameterRow.version == newest.c.v))
        found = {row.name: parameter_to_dict(row) for row in self.session.scalars(stmt)}
        return [found[n] for n in names if n in found]

    def names(self, prefix: str = "/") -> list[str]:
        stmt = select(ParameterRow.name).where(ParameterRow.name.startswith(prefix)).distinct().order_by(ParameterRow.name)
        return list(self.session.scalars(stmt))


def check_parameter_name(name: str) -> None:
    if not name.startswith("/") or "//" in name or name.endswith("/") or len(name) > 512:
        raise InvalidInput(f"invalid parameter name {name!r}: use a /hierarchical/path", details={"name": name})


def parameter_to_dict(row: ParameterRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "value": row.value,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


