"""Moving the live pointer: the one place that writes it, its history and its parameter.

Approvals, rollbacks, revocations and break-glass promotions all change which version is live
in an environment. Each move writes, in the caller's transaction, a new parameter version at
``/signoff/models/M/ENV`` (the full history stays readable), the ``live_versions`` row that
resolve reads, and a ``promotions`` history row. Audit entries and events are the caller's:
they say *why* the pointer moved. Every write to ``live_versions`` here also tells the unit of
work (``uow.live_moved``), which notifies the resolve caches of all API processes at commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signoff.domain.models import Stage
from signoff.domain.workflow import Workflow
from signoff.services.attestations import record_move
from signoff.services.ports import UnitOfWork
from signoff.services.records import LiveRecord, ModelRecord, VersionRecord


def parameter_name(model: str, env: str) -> str:
    return f"/signoff/models/{model}/{env}"


def point_live(
    uow: UnitOfWork,
    workflow: Workflow,
    model_row: ModelRecord,
    version_row: VersionRecord,
    env: str,
    *,
    approvers: list[str],
    approved_at: datetime,
    request_id: int | None,
    actor: str,
    kind: str,
    reason: str = "",
    extra: dict[str, Any] | None = None,
) -> tuple[int, LiveRecord | None, list[str]]:
    """Make an Approved version live in env; returns (parameter version, replaced row, approved envs)."""
    uow.live.lock(model_row.name, env)
    now = uow.clock.now()
    stages = uow.versions.stages([version_row.id])[version_row.id]
    approved_envs = [e for e in workflow.order if stages.get(e) is Stage.APPROVED]
    value = {
        "model": model_row.name,
        "env": env,
        "version": version_row.number,
        "artifact_uri": version_row.artifact_uri,
        "digest": version_row.digest,
        "approved_envs": approved_envs,
        "approved_by": approvers,
        "approved_at": approved_at.isoformat(),
        "request_id": request_id,
        "change": kind,
        **(extra or {}),
    }
    param_version = uow.params.put(parameter_name(model_row.name, env), value, actor=actor, at=now)
    uow.live_moved(model_row.name)
    previous = uow.live.put(
        model=model_row, version=version_row, env=env, approved_by=approvers, approved_envs=approved_envs,
        approved_at=approved_at, request_id=request_id, parameter_version=param_version, since=now,
    )
    refresh_approved_envs(uow, version_row.id, approved_envs)
    uow.live.add_promotion(
        model_id=model_row.id, env=env, version_id=version_row.id,
        previous_version_id=previous.version_id if previous else None, kind=kind, actor=actor,
        reason=reason, request_id=request_id, at=now,
    )
    record_move(uow, workflow, model_row, version_row, env, parameter=parameter_name(model_row.name, env),
                parameter_version=param_version, value=value, kind=kind, request_id=request_id,
                approvers=approvers, actor=actor)
    return param_version, previous, approved_envs


def clear_live(
    uow: UnitOfWork, model_row: ModelRecord, env: str, *, actor: str, kind: str, reason: str,
    extra: dict[str, Any] | None = None,
) -> tuple[int, LiveRecord | None]:
    """Nothing is live in env any more; the parameter gets a version that says so."""
    uow.live.lock(model_row.name, env)
    now = uow.clock.now()
    value = {
        "model": model_row.name, "env": env, "version": None, "artifact_uri": None, "digest": None,
        "approved_envs": [], "approved_by": [], "approved_at": None, "request_id": None,
        "change": kind, **(extra or {}),
    }
    param_version = uow.params.put(parameter_name(model_row.name, env), value, actor=actor, at=now)
    uow.live_moved(model_row.name)
    previous = uow.live.clear(model_row.name, env)
    uow.live.add_promotion(
        model_id=model_row.id, env=env, version_id=None,
        previous_version_id=previous.version_id if previous else None, kind=kind, actor=actor,
        reason=reason, request_id=None, at=now,
    )
    record_move(uow, None, model_row, None, env, parameter=parameter_name(model_row.name, env),
                parameter_version=param_version, value=value, kind=kind, request_id=None, approvers=[], actor=actor)
    return param_version, previous


def refresh_approved_envs(uow: UnitOfWork, version_id: int, approved_envs: list[str]) -> None:
    """Every live row of this version carries its approved environments; keep them in step."""
    for model in uow.live.refresh_approved_envs(version_id, approved_envs):
        uow.live_moved(model)
