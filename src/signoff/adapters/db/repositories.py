"""Registry repositories: models, versions and their stages, the live pointer, requests.

Each converts rows to domain entities at its boundary and turns storage errors into domain
errors (a taken unique key is ``AlreadyExists``, never an ``IntegrityError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signoff.adapters.db import pg_locks
from signoff.adapters.db.prepared import Prepared
from signoff.adapters.db.tables import (
    DecisionRow,
    InferenceReportRow,
    LiveRow,
    ModelRow,
    PromotionRow,
    RequestRow,
    StageRow,
    VersionRow,
)
from signoff.domain.approvals import ApprovalRequest, Decision, RequestState, Verdict
from signoff.domain.models import Lineage, LiveVersion, Model, ModelVersion, Stage
from signoff.domain.workflow import Policy, Workflow
from signoff.errors import AlreadyExists, NotFound

# Statements built once: building a select and its cache key costs ~100 µs per call here,
# more than running it, so hot paths reuse these with bind parameters.
# The registration path runs its statements as Prepared (adapters/db/prepared.py): on the
# driver's cursor, ~10 µs a statement instead of ~50 through Core or ~250 through the ORM.
_MODEL_BY_NAME = select(ModelRow).where(ModelRow.name == bindparam("name"))
_models, _versions, _stages = ModelRow.__table__, VersionRow.__table__, StageRow.__table__
_MODEL_REF = Prepared(
    select(_models.c.id, _models.c.name, _models.c.owner_group).where(_models.c.name == bindparam("name")))
_NEXT_NUMBER = Prepared(
    update(_models)
    .where(_models.c.id == bindparam("model_id"))
    .values(latest_version=_models.c.latest_version + 1)
    .returning(_models.c.latest_version)
)
_VERSION_COLUMNS = ("model_id", "number", "artifact_uri", "digest", "flavor", "metadata", "metrics", "run_id",
                    "code_commit", "dataset_hash", "registered_by", "registered_at")
_INSERT_VERSION = Prepared(insert(_versions).returning(_versions.c.id), _VERSION_COLUMNS)
_INSERT_STAGES = Prepared(insert(_stages), ("version_id", "env", "status", "updated_at", "updated_by"))
_VERSION = select(VersionRow).where(VersionRow.model_id == bindparam("model_id"), VersionRow.number == bindparam("number"))
_STAGES = select(StageRow).where(StageRow.version_id.in_(bindparam("ids", expanding=True)))
_STAGE = select(StageRow).where(StageRow.version_id == bindparam("version_id"), StageRow.env == bindparam("env"))
_LIVE_OF_MODEL = select(LiveRow.version_id, LiveRow.env).where(LiveRow.model_id == bindparam("model_id"))
_PROMOTIONS = (
    select(PromotionRow)
    .where(PromotionRow.model_id == bindparam("model_id"), PromotionRow.env == bindparam("env"))
    .order_by(PromotionRow.id)
)
_OPEN_REQUEST = select(RequestRow).where(
    RequestRow.version_id == bindparam("version_id"), RequestRow.env == bindparam("env"), RequestRow.state == "open"
)
_REQUEST_STATES = (
    select(RequestRow.version_id, RequestRow.env, RequestRow.state)
    .where(RequestRow.version_id.in_(bindparam("ids", expanding=True))).order_by(RequestRow.id)
)
_DECISIONS = select(DecisionRow).where(DecisionRow.request_id == bindparam("request_id")).order_by(DecisionRow.id)
# Deciders on one request queue on its row, so each one sees the decisions before it.
_REQUEST_FOR_UPDATE = (
    select(RequestRow).where(RequestRow.id == bindparam("id")).with_for_update()
    .execution_options(populate_existing=True)
)
_APPROVERS_OF = (
    select(DecisionRow.actor)
    .join(RequestRow, RequestRow.id == DecisionRow.request_id)
    .where(
        RequestRow.version_id == bindparam("version_id"),
        RequestRow.env == bindparam("env"),
        RequestRow.state == "approved",
        DecisionRow.verdict == "approve",
    )
)
_LATEST_REPORT = (
    select(InferenceReportRow)
    .where(InferenceReportRow.version_id == bindparam("version_id"), InferenceReportRow.env == bindparam("env"))
    .order_by(InferenceReportRow.id.desc())
    .limit(1)
)


def model_from_row(row: ModelRow) -> Model:
    return Model(
        name=row.name,
        description=row.description,
        owner_group=row.owner_group,
        tags=dict(row.tags or {}),
        created_at=row.created_at,
        created_by=row.created_by,
        latest_version=row.latest_version,
    )


class ModelRef(NamedTuple):
    id: int
    name: str
    owner_group: str | None


class ModelRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, name: str) -> ModelRow:
        row = self.session.scalar(_MODEL_BY_NAME, {"name": name})
        if row is None:
            raise NotFound(f"model {name!r} not found", details={"model": name})
        return row

    def find(self, name: str) -> ModelRow | None:
        return self.session.scalar(_MODEL_BY_NAME, {"name": name})

    def ref(self, name: str) -> ModelRef | None:
        """id, name and owner_group of a model, without loading an ORM object."""
        row = _MODEL_REF.first(self.session, {"name": name})
        return ModelRef(*row) if row is not None else None

    def get(self, name: str) -> Model:
        return model_from_row(self.row(name))

    def add(self, model: Model) -> ModelRow:
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
    ) -> tuple[list[tuple[int, Model]], int]:
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

    def owner_groups(self) -> list[str]:
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


class VersionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, model: ModelRow, number: int) -> VersionRow:
        row = self.session.scalar(_VERSION, {"model_id": model.id, "number": number})
        if row is None:
            raise NotFound(
                f"version {number} of model {model.name!r} not found",
                details={"model": model.name, "version": number},
            )
        return row

    def insert(self, model_id: int, version: ModelVersion, envs: Sequence[str]) -> int:
        """Store a new version, Pending in every environment; returns its row id."""
        version_id = int(_INSERT_VERSION.scalar(self.session, {
            "model_id": model_id, "number": version.number, "artifact_uri": version.artifact_uri,
            "digest": version.digest, "flavor": version.flavor, "metadata": version.metadata,
            "metrics": version.metrics, "run_id": version.lineage.run_id,
            "code_commit": version.lineage.code_commit, "dataset_hash": version.lineage.dataset_hash,
            "registered_by": version.registered_by, "registered_at": version.registered_at,
        }))
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

    def to_entity(self, model: ModelRow, row: VersionRow, workflow: Workflow) -> ModelVersion:
        stages = self.stages([row.id])[row.id]
        live = self.live_map(model.id).get(row.id, [])
        return self._entity(model, row, stages, live, workflow, self.request_states([row.id])[row.id])

    def _entity(
        self, model: ModelRow, row: VersionRow, stages: dict[str, Stage], live: list[str], workflow: Workflow,
        requests: dict[str, str] | None = None,
    ) -> ModelVersion:
        ordered = {env: stages.get(env, Stage.PENDING) for env in workflow.order}
        return ModelVersion(
            model=model.name,
            number=row.number,
            artifact_uri=row.artifact_uri,
            flavor=row.flavor,
            digest=row.digest,
            metadata=dict(row.meta or {}),
            metrics=dict(row.metrics or {}),
            lineage=Lineage(row.run_id, row.code_commit, row.dataset_hash),
            registered_by=row.registered_by,
            registered_at=row.registered_at,
            stages=ordered,
            live_in=[e for e in workflow.order if e in live],
            request_states={env: (requests or {}).get(env) for env in workflow.order},
        )

    def list(
        self, model: ModelRow, workflow: Workflow, *, before: int | None = None, limit: int = 100, offset: int = 0
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

    def count(self, model: ModelRow) -> int:
        return int(self.session.scalar(select(func.count()).select_from(VersionRow)
                                       .where(VersionRow.model_id == model.id)) or 0)

    def by_id(self, version_id: int) -> VersionRow:
        row = self.session.get(VersionRow, version_id)
        if row is None:
            raise NotFound(f"version id {version_id} not found")
        return row


class LiveRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def row(self, model: str, env: str) -> LiveRow | None:
        return self.session.get(LiveRow, (model, env))

    def lock(self, model: str, env: str) -> None:
        """Hold the (model, env) pointer until the transaction ends: two approvals in one env
        would otherwise both read the same parameter version and live row and collide. An
        advisory lock, as there may be no row to lock yet (pg_locks.py; nothing on SQLite)."""
        pg_locks.hold(self.session, pg_locks.LIVE_POINTERS, f"{model}/{env}")

    def put(self, row: LiveRow) -> LiveRow | None:
        """Point (model, env) at a new version; returns the row it replaced, detached as values."""
        old = self.session.get(LiveRow, (row.model_name, row.env), populate_existing=True)
        previous = None
        if old is not None:
            previous = LiveRow(**{c: getattr(old, c) for c in LiveRow.__table__.columns.keys()})
            self.session.delete(old)
            self.session.flush()
        self.session.add(row)
        return previous

    def clear(self, model: str, env: str) -> LiveRow | None:
        old = self.session.get(LiveRow, (model, env))
        if old is not None:
            self.session.delete(old)
        return old

    def add_promotion(self, row: PromotionRow) -> None:
        self.session.add(row)

    def history(self, model_id: int, env: str) -> list[PromotionRow]:
        return list(self.session.scalars(_PROMOTIONS, {"model_id": model_id, "env": env}))


def live_from_row(row: LiveRow) -> LiveVersion:
    return LiveVersion(
        model=row.model_name,
        env=row.env,
        version=row.number,
        artifact_uri=row.artifact_uri,
        digest=row.digest,
        flavor=row.flavor,
        approved_by=list(row.approved_by or []),
        approved_at=row.approved_at,
        approved_envs=list(row.approved_envs or []),
        request_id=row.request_id,
        parameter_version=row.parameter_version,
    )


class RequestRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, request: ApprovalRequest, *, model_id: int, version_id: int) -> RequestRow:
        row = RequestRow(
            model_id=model_id,
            version_id=version_id,
            env=request.env,
            kind=request.kind,
            state=request.state.value,
            requested_by=request.requested_by,
            reason=request.reason,
            evidence=request.evidence,
            gate_results=request.gate_results,
            policy=request.policy.to_dict(),
            digest=request.digest,
            created_at=request.created_at,
            expires_at=request.expires_at,
            decided_at=None,
            evidence_source=request.evidence_source,
            auto_blocked=request.auto_blocked,
        )
        # No savepoint (they cost a round trip each): the unique index on open requests is the
        # race guard, and a use case that hits it fails as a whole anyway.
        try:
            self.session.add(row)
            self.session.flush()
        except IntegrityError:
            raise AlreadyExists(
                f"an approval request for version {request.version} of {request.model!r} in "
                f"{request.env} is already open",
                details={"model": request.model, "version": request.version, "env": request.env},
            ) from None
        request.id = row.id
        return row

    def row(self, request_id: int, *, lock: bool = False) -> RequestRow:
        """The request; `lock` holds it until the transaction ends (FOR UPDATE) and re-reads it."""
        row = self.session.scalar(_REQUEST_FOR_UPDATE, {"id": request_id}) if lock else self.session.get(
            RequestRow, request_id)
        if row is None:
            raise NotFound(f"approval request {request_id} not found", details={"request_id": request_id})
        return row

    def open_for(self, version_id: int, env: str) -> RequestRow | None:
        return self.session.scalar(_OPEN_REQUEST, {"version_id": version_id, "env": env})

    def to_entity(self, row: RequestRow, model: str, version: int, policy: Policy) -> ApprovalRequest:
        decisions = self.session.scalars(_DECISIONS, {"request_id": row.id})
        return ApprovalRequest(
            id=row.id,
            model=model,
            version=version,
            env=row.env,
            kind=row.kind,
            requested_by=row.requested_by,
            reason=row.reason,
            policy=policy,
            evidence=dict(row.evidence or {}),
            gate_results=list(row.gate_results or []),
            digest=row.digest,
            created_at=row.created_at,
            expires_at=row.expires_at,
            state=RequestState(row.state),
            decided_at=row.decided_at,
            evidence_source=dict(row.evidence_source or {"source": "training"}),
            auto_blocked=row.auto_blocked,
            decisions=[
                Decision(d.actor, Verdict(d.verdict), d.comment, d.at, list(d.groups or []), d.evidence)
                for d in decisions
            ],
        )

    def save_decision(self, row: RequestRow, request: ApprovalRequest, decision: Decision) -> None:
        self.session.add(
            DecisionRow(
                request_id=row.id,
                actor=decision.actor,
                verdict=decision.verdict.value,
                comment=decision.comment,
                groups=decision.groups,
                digest=request.digest,
                at=decision.at,
                evidence=decision.evidence,
            )
        )
        self.save_state(row, request)

    def save_state(self, row: RequestRow, request: ApprovalRequest) -> None:
        row.state = request.state.value
        row.decided_at = request.decided_at

    def list(
        self,
        *,
        state: str | None = None,
        env: str | None = None,
        model_id: int | None = None,
        version_id: int | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> list[RequestRow]:
        stmt = select(RequestRow).order_by(RequestRow.id).limit(limit)
        if state:
            stmt = stmt.where(RequestRow.state == state)
        if env:
            stmt = stmt.where(RequestRow.env == env)
        if model_id is not None:
            stmt = stmt.where(RequestRow.model_id == model_id)
        if version_id is not None:
            stmt = stmt.where(RequestRow.version_id == version_id)
        if after is not None:
            stmt = stmt.where(RequestRow.id > after)
        return list(self.session.scalars(stmt))

    def approvers_of(self, version_id: int, env: str) -> set[str]:
        """Who approved the (approved) request for this version in env."""
        return set(self.session.scalars(_APPROVERS_OF, {"version_id": version_id, "env": env}))

    def count_open(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(RequestRow).where(RequestRow.state == "open")) or 0)


class ReportRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: InferenceReportRow) -> InferenceReportRow:
        self.session.add(row)
        self.session.flush()
        return row

    def latest(self, version_id: int, env: str) -> InferenceReportRow | None:
        return self.session.scalar(_LATEST_REPORT, {"version_id": version_id, "env": env})

    def list(self, version_id: int) -> list[InferenceReportRow]:
        return list(
            self.session.scalars(
                select(InferenceReportRow)
                .where(InferenceReportRow.version_id == version_id)
                .order_by(InferenceReportRow.id)
            )
        )


def report_to_dict(row: InferenceReportRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "env": row.env,
        "metrics": row.metrics,
        "rows": row.rows,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "reported_by": row.reported_by,
        "reported_at": row.reported_at.isoformat(),
    }
