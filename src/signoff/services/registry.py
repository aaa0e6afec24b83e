"""Use cases of the registry: register versions and read them back."""

from __future__ import annotations

from typing import Any

from signoff.domain import events
from signoff.domain.models import (
    Lineage,
    Model,
    ModelVersion,
    Stage,
    check_document,
    check_metrics,
    check_model_name,
)
from signoff.domain.workflow import Workflow
from signoff.errors import AlreadyExists, InvalidInput
from signoff.services.approvals import open_request
from signoff.services.drift import check_profile
from signoff.services.ports import UnitOfWork


def register(*, uow: UnitOfWork, workflow: Workflow, **details: Any) -> ModelVersion:
    """Register the next version of a model (creating the model) in its own transaction; the
    details are `register_in`'s. Raises InvalidInput."""
    with uow:
        version = register_in(uow=uow, workflow=workflow, **details)
        uow.commit()
    return version


def register_in(
    *,
    uow: UnitOfWork,
    workflow: Workflow,
    model: str,
    artifact_uri: str,
    actor: str,
    metrics: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    lineage: Lineage | None = None,
    flavor: str | None = None,
    digest: str | None = None,
    description: str | None = None,
    owner_group: str | None = None,
    open_first_request: bool = False,
    reference_profile: dict[str, Any] | None = None,
    reference_source: str = "",
) -> ModelVersion:
    """`register` inside a transaction the caller opened and commits (services/
    batched_registrations.py runs several in one); raises InvalidInput before writing anything."""
    check_model_name(model)
    clean_metrics = check_metrics(metrics or {})
    check_document(metadata or {}, "metadata")
    if not artifact_uri or not isinstance(artifact_uri, str):
        raise InvalidInput("an artifact URI is required", details={"field": "artifact_uri"})
    if reference_profile is not None:
        check_profile(reference_profile)
    now = uow.clock.now()
    model_ref = uow.models.ref(model)
    if model_ref is None:
        try:
            uow.models.add(
                Model(
                    name=model,
                    description=description or "",
                    owner_group=owner_group,
                    created_at=now,
                    created_by=actor,
                )
            )
            uow.session.flush()  # type: ignore[attr-defined]
            uow.record(actor=actor, action="model.created", subject=f"models/{model}", model=model,
                       after={"name": model, "owner_group": owner_group})
        except AlreadyExists:
            pass  # a concurrent first registration created it (its savepoint is undone): use theirs
        model_ref = uow.models.ref(model)
    number = uow.models.next_number(model_ref.id)
    version = ModelVersion(
        model=model,
        number=number,
        artifact_uri=artifact_uri,
        flavor=flavor,
        digest=digest,
        metadata=dict(metadata or {}),
        metrics=clean_metrics,
        lineage=lineage or Lineage(),
        registered_by=actor,
        registered_at=now,
        stages={env: Stage.PENDING for env in workflow.order},
    )
    version_id = uow.versions.insert(model_ref.id, version, workflow.order)
    if reference_profile is not None:
        # The training-data profile that inference batches are compared with (drift).
        uow.profiles.put(version_id, reference_profile, source=reference_source, actor=actor, at=now)
    uow.record(actor=actor, action="version.registered", subject=version.subject, model=model,
               after=version.to_dict())
    uow.emit(events.Event(events.REGISTERED, version.subject, {
        "model": model,
        "version": number,
        "artifact_uri": artifact_uri,
        "digest": digest,
        "flavor": flavor,
        "metrics": clean_metrics,
        "registered_by": actor,
        "owner_group": model_ref.owner_group,
        "first_env": workflow.first,
    }))
    if open_first_request:
        # Normally the rule `default-request-approval` opens it, after the commit (services/
        # actions.py); asking for it here opens it in this transaction, and the rule no-ops.
        open_request(uow=uow, workflow=workflow, model_row=uow.models.row(model),
                     version_row=uow.versions.by_id(version_id),
                     env=workflow.first, actor=actor, reason="registered", kind="approval")
    return version


def get_version(*, uow: UnitOfWork, workflow: Workflow, model: str, version: int) -> ModelVersion:
    """One version with its stages; raises NotFound."""
    with uow:
        model_row = uow.models.row(model)
        return uow.versions.to_entity(model_row, uow.versions.row(model_row, version), workflow)  # type: ignore[no-any-return]


def list_versions(
    *, uow: UnitOfWork, workflow: Workflow, model: str, before: int | None = None, limit: int = 100
) -> list[ModelVersion]:
    """Versions newest first; raises NotFound for an unknown model."""
    with uow:
        model_row = uow.models.row(model)
        return uow.versions.list(model_row, workflow, before=before, limit=limit)  # type: ignore[no-any-return]


def get_model(*, uow: UnitOfWork, model: str) -> Model:
    """A model; raises NotFound."""
    with uow:
        return uow.models.get(model)  # type: ignore[no-any-return]


def list_models(*, uow: UnitOfWork, after: str | None = None, limit: int = 100) -> list[Model]:
    with uow:
        return uow.models.list(after=after, limit=limit)  # type: ignore[no-any-return]


def create_model(
    *, uow: UnitOfWork, name: str, actor: str, description: str = "", owner_group: str | None = None,
    tags: dict[str, str] | None = None,
) -> Model:
    """Create a model before its first version; raises InvalidInput, AlreadyExists."""
    check_model_name(name)
    with uow:
        model = Model(name=name, description=description, owner_group=owner_group, tags=dict(tags or {}),
                      created_at=uow.clock.now(), created_by=actor)
        uow.models.add(model)
        uow.record(actor=actor, action="model.created", subject=f"models/{name}", model=name, after=model.to_dict())
        uow.commit()
    return model
