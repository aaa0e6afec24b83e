"""Drift of inference batches against the version's reference profile.

The comparison is pure (``domain/drift.py``); this module supplies the KS test from scipy and
turns a drifted batch into a ``signoff.drift.detected`` event and an audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from signoff.domain import events
from signoff.domain.models import Stage, check_document
from signoff.domain.workflow import Workflow
from signoff.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from signoff.services.ports import UnitOfWork
from signoff.services.records import ModelRecord, VersionRecord


def ks_pvalue(reference: Sequence[float], current: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov p-value (asymptotic: samples are hundreds of values)."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference, current, method="asymp").pvalue)


def check_profile(profile: Any) -> dict[str, Any]:
    """A profile is a JSON object with a ``features`` object; anything else is refused whole."""
    if not isinstance(profile, dict) or not isinstance(profile.get("features"), dict):
        raise InvalidInput("a profile must be an object with a 'features' object", details={"field": "profile"})
    check_document(profile, "profile")  # finite numbers, no NUL, bounded nesting: storable on every database
    for name, feature in profile["features"].items():
        if not isinstance(feature, dict) or feature.get("kind") not in ("numeric", "categorical"):
            raise InvalidInput(f"profile feature {name!r} needs kind 'numeric' or 'categorical'",
                               details={"feature": name})
    return profile


def assess_batch(
    *, uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord, env: str,
    profile: dict[str, Any] | None, report_id: int, actor: str,
) -> dict[str, Any] | None:
    """Inside the report's transaction: compare, and emit drift.detected when a feature drifted."""
    if not profile or not profile.get("features"):
        return None
    reference = uow.profiles.get(version_row.id)
    if reference is None:
        return None
    from signoff.domain import drift  # numpy: imported when a batch is actually assessed

    policy = workflow.policy(env)
    result = drift.assess(reference, profile, psi_threshold=policy.drift_psi_threshold,
                          ks_pvalue=policy.drift_ks_pvalue, ks=ks_pvalue)
    summary = result.to_dict()
    if result.drifted:
        subject = f"models/{model_row.name}/versions/{version_row.number}"
        scores = {name: summary["features"][name] for name in result.drifted}
        uow.record(actor=actor, action="drift.detected", subject=subject, model=model_row.name,
                   after={"env": env, "report_id": report_id, "features": scores})
        uow.emit(events.drift_detected(
            model=model_row.name, version=version_row.number, env=env, report_id=report_id,
            drifted_features=result.drifted, features=summary["features"], psi_threshold=result.psi_threshold,
            ks_pvalue=result.ks_pvalue, owner_group=model_row.owner_group, registered_by=version_row.registered_by,
        ))
    return summary


def set_reference(*, uow: UnitOfWork, workflow: Workflow, model: str, version: int, profile: dict[str, Any],
                  actor: str, admin: bool | None = None, source: str = "") -> None:
    """Attach (or replace) the reference profile of a version; raises NotFound, InvalidInput,
    PermissionDenied (neither its registrant nor an admin), InvalidTransition (approved past its first
    environment: drift in production is measured against what the approvers saw). `admin`: whether the
    caller acts as an admin (a token's scope); None asks the user's own admin flag (embedded use)."""
    check_profile(profile)
    with uow:
        model_row = uow.models.row(model)
        version_row = uow.versions.row(model_row, version)
        if admin is None:
            user = uow.users.find(actor)
            admin = bool(user is not None and user.is_admin)
        if actor != version_row.registered_by and not admin:
            raise PermissionDenied(f"only {version_row.registered_by} (who registered version {version} of {model!r}) "
                                   "or an admin may set its reference profile",
                                   details={"model": model, "version": version, "registered_by": version_row.registered_by})
        stages = uow.versions.stages([version_row.id])[version_row.id]
        past = [env for env in workflow.order[1:] if stages.get(env) in (Stage.APPROVED, Stage.REVOKED)]
        if past:
            raise InvalidTransition(f"version {version} of {model!r} is already approved in {past[0]}; its reference "
                                    f"profile can change only before it is approved beyond {workflow.first}",
                                    details={"model": model, "version": version, "env": past[0]})
        uow.profiles.put(version_row.id, profile, source=source, actor=actor, at=uow.clock.now())
        uow.record(actor=actor, action="reference.set", subject=f"models/{model}/versions/{version}", model=model,
                   after=reference_audit(profile, source))
        uow.commit()


def reference_audit(profile: dict[str, Any], source: str) -> dict[str, Any]:
    """What the audit log keeps of a reference profile being set: its source and shape, not its numbers."""
    return {"source": source, "features": sorted(profile["features"]), "rows": profile.get("rows")}


def get_reference(*, uow: UnitOfWork, model: str, version: int) -> dict[str, Any]:
    """The reference profile of a version; raises NotFound."""
    with uow:
        version_row = uow.versions.row(uow.models.row(model), version)
        profile = uow.profiles.get(version_row.id)
    if profile is None:
        raise NotFound(f"version {version} of {model!r} has no reference profile",
                       details={"model": model, "version": version})
    return profile
