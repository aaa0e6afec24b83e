"""The in-process transport: the same client methods, calling the services directly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signoff.bootstrap import Context, bootstrap
from signoff.config import Settings
from signoff.domain.models import Lineage
from signoff.sdk._base import BaseClient
from signoff.sdk._records import Record, record
from signoff.services import accounts, approvals, inference, lookups, registry


class EmbeddedClient(BaseClient):
    def __init__(self, *, actor: str, settings: Settings | None = None, context: Context | None = None) -> None:
        self.ctx = context or bootstrap(settings)
        self._owns_context = context is None
        self.actor = actor

    def _kw(self) -> dict[str, Any]:
        return {"uow": self.ctx.uow(), "workflow": self.ctx.workflow}

    def register(self, model: str, artifact_uri: str, *, metrics: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None, run_id: str | None = None, code_commit: str | None = None,
                 dataset_hash: str | None = None, flavor: str | None = None, digest: str | None = None,
                 description: str | None = None, owner_group: str | None = None) -> Record:
        v = registry.register(**self._kw(), model=model, artifact_uri=artifact_uri, actor=self.actor, metrics=metrics,
                              metadata=metadata, lineage=Lineage(run_id, code_commit, dataset_hash), flavor=flavor,
                              digest=digest, description=description, owner_group=owner_group)
        return record(v.to_dict())

    def models(self, *, cursor: str | None = None, limit: int = 100) -> list[Record]:
        return record([m.to_dict() for m in registry.list_models(uow=self.ctx.uow(), after=cursor, limit=limit)])

    def model(self, name: str) -> Record:
        return record(registry.get_model(uow=self.ctx.uow(), model=name).to_dict())

    def versions(self, model: str, *, cursor: int | None = None, limit: int = 100) -> list[Record]:
        return record([v.to_dict() for v in registry.list_versions(**self._kw(), model=model, before=cursor, limit=limit)])

    def version(self, model: str, version: int) -> Record:
        return record(registry.get_version(**self._kw(), model=model, version=version).to_dict())

    def request_promotion(self, model: str, version: int, env: str, *, reason: str = "") -> Record:
        r = approvals.request_promotion(**self._kw(), model=model, version=version, env=env, actor=self.actor, reason=reason)
        return record(r.to_dict())

    def requests(self, *, state: str | None = None, env: str | None = None, model: str | None = None,
                 version: int | None = None, cursor: int | None = None, limit: int = 100) -> list[Record]:
        rs = approvals.list_requests(**self._kw(), state=state, env=env, model=model, version=version,
                                     after=cursor, limit=limit)
        return record([r.to_dict() for r in rs])

    def request(self, request_id: int) -> Record:
        return record(approvals.get_request(**self._kw(), request_id=request_id).to_dict())

    def decide(self, request_id: int, decision: str, comment: str = "") -> Record:
        r = approvals.decide(**self._kw(), request_id=request_id, actor=self.actor, verdict=decision, comment=comment)
        return record(r.to_dict())

    def resolve(self, model: str, env: str) -> Record:
        return record(lookups.resolve(reader=self.ctx.reader, workflow=self.ctx.workflow, model=model, env=env).to_dict())

    def report_inference(self, model: str, version: int, env: str, *, metrics: dict[str, Any], rows: int = 0,
                         started_at: datetime | None = None, finished_at: datetime | None = None,
                         profile: dict[str, Any] | None = None) -> Record:
        report, request = inference.report_inference(
            **self._kw(), model=model, version=version, env=env, actor=self.actor, metrics=metrics, rows=rows,
            started_at=started_at, finished_at=finished_at, profile=profile)
        return record({**report, "promotion_request": request.to_dict() if request else None})

    def parameter(self, name: str, version: int | None = None) -> Record:
        return record(lookups.get_parameter(uow=self.ctx.uow(), name=name, version=version))

    def parameter_history(self, name: str) -> list[Record]:
        return record(lookups.parameter_history(uow=self.ctx.uow(), name=name, limit=10_000))

    def audit(self, *, model: str | None = None, since: datetime | None = None, cursor: int | None = None,
              limit: int = 100) -> list[Record]:
        entries = lookups.list_audit(uow=self.ctx.uow(), model=model, since=since, after=cursor, limit=limit)
        return record([e.to_dict() for e in entries])

    def verify_audit(self) -> Record:
        return record(lookups.verify_audit(uow=self.ctx.uow()).to_dict())

    def events(self, *, type: str | None = None, cursor: int | None = None, limit: int = 100) -> list[Record]:
        return record(lookups.list_events(uow=self.ctx.uow(), type=type, after=cursor, limit=limit))

    def users(self) -> list[Record]:
        return record(accounts.list_users(uow=self.ctx.uow()))

    def close(self) -> None:
        if self._owns_context:
            self.ctx.close()
