"""Versions of a model and their stage in each environment."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, insert, inspect, select
from sqlalchemy.orm import Session

from signoff.adapters.db.prepared import Prepared
from signoff.adapters.db.tables import (
    LiveRow,
    RequestRow,
    StageRow,
    VersionRow,
)
from signoff.domain.models import Lineage, ModelVersion, Stage
from signoff.domain.workflow import Workflow
from signoff.errors import NotFound
from signoff.services.records import ModelRecord, VersionRecord

# The registration path runs its statements as Prepared (adapters/db/prepared.py): on the
# driver's cursor, a fraction of what Core, and far less of what the ORM, spend per statement.
_versions, _stages = VersionRow.__table__, StageRow.__table__
# The ModelVersion fields kept as they are in a VersionRow column of the same name, both ways: a
# new plain field of a version needs its column (tables.py, a migration) and nothing here.
_SHAPED = {"metadata", "metrics", "lineage"}  # stored under other names or shapes, converted below
_COLUMN_OF = {attr.key: attr.columns[0].name for attr in inspect(VersionRow).column_attrs}
_PLAIN = tuple(f.name for f in dataclasses.fields(ModelVersion)
               if f.name not in _SHAPED and _COLUMN_OF.get(f.name) == f.name)
_VERSION_COLUMNS = ("model_id", "metadata", "metrics", "run_id", "code_commit", "dataset_hash", *_PLAIN)
_INSERT_VERSION = Prepared(insert(_versions).returning(_versions.c.id), _VERSION_COLUMNS)
_INSERT_STAGES = Prepared(insert(_stages), ("version_id", "env", "status", "updated_at", "updated_by"))
_VERSION = select(VersionRow).where(VersionRow.model_id == bindparam("model_id"), VersionRow.number == bindparam("number"))
_STAGES = select(StageRow).where(StageRow.version_id.in_(bindparam("ids", expanding=True)))
_STAGE = select(StageRow).where(StageRow.version_id == bindparam("version_id"), StageRow.env == bindparam("env"))
_LIVE_OF_MODEL = select(LiveRow.version_id, LiveRow.env).where(LiveRow.model_id == bindparam("model_id"))
_REQUEST_STATES = (
    select(RequestRow.version_id, RequestRow.env, RequestRow.state)
    .where(RequestRow.version_id.in_(bindparam("ids", expanding=True))).order_by(RequestRow.id)
)


class VersionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, model: ModelRecord, number: int) -> VersionRecord:
        row = self.session.scalar(_VERSION, {"model_id": model.id, "number": number})
        if row is None:
            raise NotFound(
                f"version {number} of model {model.name!r} not found",
                details={"model": model.name, "version": number},
            )
        return row

    def insert(self, model_id: int, version: ModelVersion, envs: Sequence[str]) -> int:
        """Store a new version, Pending in every environment; returns its row id."""
        values = {name: getattr(version, name) for name in _PLAIN}
        values.update(model_id=model_id, metadata=version.metadata, metrics=version.metrics,
                      run_id=version.lineage.run_id, code_commit=version.lineage.code_commit,
                      dataset_hash=version.lineage.dataset_hash)
        version_id = int(_INSERT_VERSION.scalar(self.session, values))
        _INSERT_STAGES.execute_many(self.session, [
            {"version_id": version_id, "env": env, "status": Stage.PENDING.value,
             "updated_at": version.registered_at, "updated_by": version.registered_by}
            for env in envs
        ])
        return version_id

    def stages(self, version_ids: Sequence[int]) -> dict[int, dict[str, Stage]]:
        out: dict[int, dict[str, Stage]] = {vid: {} for vid in version_ids}
        if not version_ids:
            return out
        for st in self.session.scalars(_STAGES, {"ids": list(version_ids)}):
            out[st.version_id][st.env] = Stage(st.status)
        return out

    def set_stage(self, version_id: int, env: str, stage: Stage, *, actor: str, at: datetime) -> Stage:
        row = self.session.scalar(_STAGE, {"version_id": version_id, "env": env})
        if row is None:
            row = StageRow(version_id=version_id, env=env, status=stage.value, updated_at=at, updated_by=actor)
            self.session.add(row)
            return Stage.PENDING
        before = Stage(row.status)
        row.status, row.updated_at, row.updated_by = stage.value, at, actor
        return before

    def live_map(self, model_id: int) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for version_id, env in self.session.execute(_LIVE_OF_MODEL, {"model_id": model_id}):
            out.setdefault(version_id, []).append(env)
        return out

    def request_states(self, version_ids: Sequence[int]) -> dict[int, dict[str, str]]:
        """The state of the latest approval request per (version, environment)."""
        out: dict[int, dict[str, str]] = {vid: {} for vid in version_ids}
        if not version_ids:
            return out
        for vid, env, state in self.session.execute(_REQUEST_STATES, {"ids": list(version_ids)}):
            out[vid][env] = state  # ordered by id: the latest wins
        return out

    def to_entity(self, model: ModelRecord, row: VersionRecord, workflow: Workflow) -> ModelVersion:
        stages = self.stages([row.id])[row.id]
        live = self.live_map(model.id).get(row.id, [])
        return self._entity(model, row, stages, live, workflow, self.request_states([row.id])[row.id])

    def _entity(
        self, model: ModelRecord, row: VersionRecord, stages: dict[str, Stage], live: list[str], workflow: Workflow,
        requests: dict[str, str] | None = None,
    ) -> ModelVersion:
        ordered = {env: stages.get(env, Stage.PENDING) for env in workflow.order}
        return ModelVersion(
            model=model.name,
            **{name: getattr(row, name) for name in _PLAIN},
            metadata=dict(row.meta or {}),
            metrics=dict(row.metrics or {}),
            lineage=Lineage(row.run_id, row.code_commit, row.dataset_hash),
            stages=ordered,
            live_in=[e for e in workflow.order if e in live],
            request_states={env: (requests or {}).get(env) for env in workflow.order},
        )

    def list(
        self, model: ModelRecord, workflow: Workflow, *, before: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[ModelVersion]:
        stmt = (
            select(VersionRow)
            .where(VersionRow.model_id == model.id)
            .order_by(VersionRow.number.desc())
            .offset(offset)
            .limit(limit)
        )
        if before is not None:
            stmt = stmt.where(VersionRow.number < before)
        rows = list(self.session.scalars(stmt))
        stages = self.stages([r.id for r in rows])
        requests = self.request_states([r.id for r in rows])
        live = self.live_map(model.id)
        return [self._entity(model, r, stages[r.id], live.get(r.id, []), workflow, requests[r.id]) for r in rows]

    def count(self, model: ModelRecord) -> int:
        return int(self.session.scalar(select(func.count()).select_from(VersionRow)
                                       .where(VersionRow.model_id == model.id)) or 0)

    def by_id(self, version_id: int) -> VersionRecord:
        row = self.session.get(VersionRow, version_id)
        if row is None:
            raise NotFound(f"version id {version_id} not found")
        return row


