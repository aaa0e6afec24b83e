"""Models: the registry's top-level aggregate, looked up by name.

Converts rows to domain entities at its boundary; a taken name is ``AlreadyExists``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signoff.adapters.db.prepared import Prepared
from signoff.adapters.db.tables import (
    LiveRow,
    ModelRow,
    RequestRow,
)
from signoff.domain.models import Model
from signoff.errors import AlreadyExists, NotFound
from signoff.services.records import ModelRecord
from signoff.services.repositories import ModelRef

# Statements built once: building a select and its cache key costs more than running it, so hot paths reuse these with bind parameters.
# The registration path runs its statements as Prepared (adapters/db/prepared.py): on the
# driver's cursor, a fraction of what Core, and far less of what the ORM, spend per statement.
_MODEL_BY_NAME = select(ModelRow).where(ModelRow.name == bindparam("name"))
_models = ModelRow.__table__
_MODEL_REF = Prepared(
    select(_models.c.id, _models.c.name, _models.c.owner_group).where(_models.c.name == bindparam("name")))
_NEXT_NUMBER = Prepared(
    update(_models)
    .where(_models.c.id == bindparam("model_id"))
    .values(latest_version=_models.c.latest_version + 1)
    .returning(_models.c.latest_version)
)


def model_from_row(row: ModelRecord) -> Model:
    return Model(
        name=row.name,
        description=row.description,
        owner_group=row.owner_group,
        tags=dict(row.tags or {}),
        created_at=row.created_at,
        created_by=row.created_by,
        latest_version=row.latest_version,
    )


class ModelRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, name: str) -> ModelRecord:
        row = self.session.scalar(_MODEL_BY_NAME, {"name": name})
        if row is None:
            raise NotFound(f"model {name!r} not found", details={"model": name})
        return row

    def by_id(self, model_id: int) -> ModelRecord:
        row = self.session.get(ModelRow, model_id)
        if row is None:
            raise NotFound(f"model id {model_id} not found")
        return row

    def find(self, name: str) -> ModelRecord | None:
        return self.session.scalar(_MODEL_BY_NAME, {"name": name})

    def ref(self, name: str) -> ModelRef | None:
        """id, name and owner_group of a model, without loading an ORM object."""
        row = _MODEL_REF.first(self.session, {"name": name})
        return ModelRef(*row) if row is not None else None

    def get(self, name: str) -> Model:
        return model_from_row(self.row(name))

    def add(self, model: Model) -> ModelRecord:
        row = ModelRow(
            name=model.name,
            description=model.description,
            owner_group=model.owner_group,
            tags=model.tags,
            latest_version=0,
            created_at=model.created_at,
            created_by=model.created_by or "",
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"model {model.name!r} already exists", details={"model": model.name}) from None
        return row

    def list(self, *, after: str | None = None, limit: int = 100) -> list[Model]:
        stmt = select(ModelRow).order_by(ModelRow.name).limit(limit)
        if after:
            stmt = stmt.where(ModelRow.name > after)
        return [model_from_row(r) for r in self.session.scalars(stmt)]

    def search(
        self, *, text: str | None = None, tag: str | None = None, owner_group: str | None = None,
        live_in: str | None = None, offset: int = 0, limit: int = 50,
    ) -> tuple[builtins.list[tuple[int, Model]], int]:
        """One page of models by name with their row ids, and how many match in all.

        `text` matches anywhere in the name (case-insensitive); `tag` is `key` (has the tag) or
        `key=value`; `live_in` keeps models with a live version in that environment.
        """
        where = []
        if text:
            where.append(ModelRow.name.icontains(text, autoescape=True))
        if owner_group:
            where.append(ModelRow.owner_group == owner_group)
        if tag:
            key, has_value, value = tag.partition("=")
            tag_value = ModelRow.tags[key.strip()].as_string()
            where.append(tag_value == value.strip() if has_value else tag_value.is_not(None))
        if live_in:
            where.append(exists().where(LiveRow.model_id == ModelRow.id, LiveRow.env == live_in))
        total = int(self.session.scalar(select(func.count()).select_from(ModelRow).where(*where)) or 0)
        stmt = select(ModelRow).where(*where).order_by(ModelRow.name).offset(offset).limit(limit)
        return [(r.id, model_from_row(r)) for r in self.session.scalars(stmt)], total

    def owner_groups(self) -> builtins.list[str]:
        stmt = select(ModelRow.owner_group).where(ModelRow.owner_group.is_not(None)).distinct()
        return sorted(g for g in self.session.scalars(stmt) if g)

    def live_numbers(self, model_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """The live version number per environment of each model (one query for a page)."""
        out: dict[int, dict[str, int]] = {mid: {} for mid in model_ids}
        if model_ids:
            stmt = select(LiveRow.model_id, LiveRow.env, LiveRow.number).where(LiveRow.model_id.in_(list(model_ids)))
            for model_id, env, number in self.session.execute(stmt):
                out[model_id][env] = number
        return out

    def open_request_counts(self, model_ids: Sequence[int]) -> dict[int, int]:
        out = dict.fromkeys(model_ids, 0)
        if model_ids:
            stmt = (select(RequestRow.model_id, func.count()).where(RequestRow.state == "open",
                                                                    RequestRow.model_id.in_(list(model_ids)))
                    .group_by(RequestRow.model_id))
            out.update({model_id: int(n) for model_id, n in self.session.execute(stmt)})
        return out

    def next_number(self, model_id: int) -> int:
        """Allocate the next version number; the row lock makes numbers gapless under concurrency."""
        return int(_NEXT_NUMBER.scalar(self.session, {"model_id": model_id}))


