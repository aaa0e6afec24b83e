"""Read-side use cases: resolve, parameters, audit, events, board."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signoff.domain.audit import AuditEntry, ChainReport, verify_chain
from signoff.domain.models import LiveVersion, ModelVersion
from signoff.domain.workflow import Workflow
from signoff.errors import NotFound
from signoff.services.ports import LiveLookup, UnitOfWork


def resolve(*, reader: LiveLookup, workflow: Workflow, model: str, env: str) -> LiveVersion:
    """The version live in env; raises NotFound (unknown model or environment, nothing live)."""
    live = reader.get(model, env)
    if live is not None:
        return live
    workflow.check_env(env)
    if not reader.model_exists(model):
        raise NotFound(f"model {model!r} not found", details={"model": model})
    raise NotFound(f"no version of {model!r} is live in {env}", details={"model": model, "env": env})


def board(*, uow: UnitOfWork, workflow: Workflow, model: str, limit: int = 50) -> list[ModelVersion]:
    """Versions × environments for one model, newest first; raises NotFound."""
    with uow:
        return uow.versions.list(uow.models.row(model), workflow, limit=limit)


def get_parameter(*, uow: UnitOfWork, name: str, version: int | None = None) -> dict[str, Any]:
    """A parameter's latest (or given) version; raises NotFound."""
    with uow:
        return uow.params.get(name, version)


def parameter_history(*, uow: UnitOfWork, name: str, after: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Every version of a parameter, oldest first; raises NotFound."""
    with uow:
        return uow.params.history(name, after=after, limit=limit)


def parameter_names(*, uow: UnitOfWork, prefix: str = "/") -> list[str]:
    """Names of every parameter under `prefix`, sorted."""
    with uow:
        return uow.params.names(prefix)


def latest_parameters(*, uow: UnitOfWork, names: list[str]) -> list[dict[str, Any]]:
    """The latest version of each named parameter that exists, in the order given."""
    with uow:
        return uow.params.latest_many(names)


def list_audit(
    *, uow: UnitOfWork, model: str | None = None, subject_prefix: str | None = None,
    since: datetime | None = None, after: int | None = None, limit: int = 100,
) -> list[AuditEntry]:
    with uow:
        return uow.audit.list(model=model, subject_prefix=subject_prefix, since=since, after=after, limit=limit)


def verify_audit(*, uow: UnitOfWork) -> ChainReport:
    """Recompute the hash chain; the report names the first broken entry."""
    with uow:
        return verify_chain(uow.audit.iter_all())


def list_events(*, uow: UnitOfWork, type: str | None = None, after: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    with uow:
        return uow.outbox.list(type=type, after=after, limit=limit)
