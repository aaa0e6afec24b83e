"""Use cases of the registry: register versions and read them back."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from signoff.errors import AlreadyExists, InvalidArtifact, InvalidInput, NotFound
from signoff.services.approval_path import open_request
from signoff.services.artifacts import digest_of as artifact_digest
from signoff.services.artifacts import reader as artifact_reader
from signoff.services.artifacts import store_artifact
from signoff.services.drift import check_profile, reference_audit
from signoff.services.ports import UnitOfWork

DIGEST_FORMAT = re.compile(r"sha256:[0-9a-f]{64}")


def _local_path(uri: str) -> str | None:
    """The filesystem path of a local artifact URI (a plain path or file://), else None."""
    if uri.startswith("file://"):
        return uri[len("file://"):]
    return None if "://" in uri else uri


def check_digest(digest: str | None) -> str | None:
    """A supplied digest is `sha256:` and 64 lowercase hex digits; raises InvalidInput."""
    if digest is not None and (not isinstance(digest, str) or not DIGEST_FORMAT.fullmatch(digest)):
        raise InvalidInput(f"digest must be 'sha256:' followed by 64 lowercase hex digits, got {digest!r}",
                           details={"field": "digest"})
    return digest


def digest_needs_reading(artifact_uri: str, digest: str | None) -> bool:
    """Whether `settle_digest` reads the artifact (so a caller on an event loop hands it to a thread)."""
    return digest is None or _local_path(artifact_uri) is not None


@functools.cache
def _driver_installed(protocol: str) -> bool:
    """Whether fsspec can open this protocol here; asked once per process (a failed import is not
    cached by Python, and registrations of s3:// URIs without s3fs would retry it every time)."""
    import fsspec

    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError):
        return False
    return True


def settle_digest(artifact_uri: str, digest: str | None, *, local_roots: list[str] | None = None,
                  digest_of: Callable[[str], str] = artifact_digest) -> str | None:
    """The digest a registration ends with: computed when signoff can read the artifact, else the
    supplied one. Raises InvalidInput for a path or URL that does not exist (a typo would otherwise
    register bytes nobody can check) and for a supplied digest the local file contradicts.

    None only for a remote URI this process cannot read (no fsspec driver or credentials) with no
    digest supplied: such a version can be approved only where `require_digest = false`.
    """
    check_digest(digest)
    path = _local_path(artifact_uri)
    if path is not None:
        if local_roots is not None and not _inside(path, local_roots):
            # Over HTTP the path names the server's disk: reading (or even probing) anything else
            # would let a token holder hash /, or learn which files exist there.
            raise InvalidArtifact(
                f"artifact path {artifact_uri!r} is not under the artifact root ({', '.join(local_roots)}); over "
                "HTTP register a URL the server can read, or a path inside the artifact root, with its digest",
                details={"field": "artifact_uri", "path": artifact_uri})
        if not os.path.exists(path):
            raise InvalidArtifact(f"artifact path {artifact_uri!r} does not exist here; register an existing file or "
                               "directory, or a URL signoff and the inference pipelines can read",
                               details={"field": "artifact_uri", "path": artifact_uri})
        actual = digest_of(path)
        if digest is not None and actual != digest:
            raise InvalidArtifact(f"digest {digest} does not match the artifact at {artifact_uri!r} ({actual})",
                               details={"field": "digest", "digest": actual})
        return actual
    if digest is not None:
        return digest  # a remote artifact is not downloaded to confirm what its owner states
    if not _driver_installed(artifact_uri.partition("://")[0]):
        return None
    try:
        return digest_of(artifact_uri)
    except NotFound:
        raise InvalidArtifact(f"artifact {artifact_uri!r} does not exist",
                           details={"field": "artifact_uri", "path": artifact_uri}) from None
    except (InvalidInput, OSError):
        return None  # unreadable here: recorded without a digest, and approvals say so


def _inside(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, os.path.realpath(root)]) == os.path.realpath(root) for root in roots)


def registration_details(*, model: str, actor: str, fields: Mapping[str, Any], reference_source: str) -> dict[str, Any]:
    """`register`'s arguments from a registration as clients send it, flat (the REST body, the SDK's
    keywords): the lineage gathered, the reference profile's source named; every other field goes
    through under its own name (the version's field, or the model's description and owner group)."""
    details = dict(fields)
    lineage = Lineage(details.pop("run_id", None), details.pop("code_commit", None), details.pop("dataset_hash", None))
    details.update(model=model, actor=actor, lineage=lineage)
    if details.get("reference_profile") is not None:
        details["reference_source"] = reference_source
    return details


@dataclass(frozen=True)
class Registered:
    """A registration's outcome: the version, whether its artifact was copied into the store, and
    whether it came with a reference profile."""

    version: ModelVersion
    stored: bool = False
    reference: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**self.version.to_dict(), "stored": self.stored, "reference": self.reference}


def check_registration(details: dict[str, Any]) -> None:
    """The refusals that cost nothing, before an artifact is read or copied; raises InvalidInput."""
    check_model_name(details.get("model"))
    check_metrics(details.get("metrics") or {})
    if details.get("reference_profile") is not None:
        check_profile(details["reference_profile"])


def settle_artifact(details: dict[str, Any], *, store: bool | None = None, artifact_store: Any = None,
                    local_roots: list[str] | None = None) -> bool:
    """Outside any transaction (it may read or copy the artifact): copy it into `artifact_store` by
    digest when asked (`store=True`), or by default when no digest is given and it exists here,
    else settle the digest (`settle_digest`). Rewrites `details`' artifact_uri, digest and flavor;
    returns whether the artifact was stored. Raises InvalidInput, InvalidArtifact, NotFound."""
    uri = details.get("artifact_uri")
    if not isinstance(uri, str) or not uri:
        return False  # register_in refuses it, inside the transaction that would have written it
    if artifact_store is not None and (store or (store is None and details.get("digest") is None
                                               and artifact_reader().exists(uri))):
        stored = store_artifact(store=artifact_store, source=uri, flavor=details.get("flavor"))
        details.update(artifact_uri=stored["uri"], digest=stored["digest"], flavor=stored["flavor"])
        return True
    details["digest"] = settle_digest(uri, details.get("digest"), local_roots=local_roots)
    return False


def register(*, uow: UnitOfWork, workflow: Workflow, store: bool | None = None, artifact_store: Any = None,
             local_roots: list[str] | None = None, **details: Any) -> Registered:
    """Register the next version of a model (creating the model), with its reference profile if
    `reference_profile` is given, in one transaction with their audit entries and event. Every door
    registers here or, batched, through `settle_artifact` then `register_in`: the embedded SDK, the
    REST route (and so the HTTP SDK), the SageMaker API. The details are `register_in`'s; the
    artifact is settled first (`settle_artifact`; `local_roots`: where local paths may be read,
    None for anywhere). Raises InvalidInput, InvalidArtifact, NotFound (store=True, missing)."""
    check_registration(details)  # a bad name or profile should not cost reading the artifact
    stored = settle_artifact(details, store=store, artifact_store=artifact_store, local_roots=local_roots)
    with uow:
        version = register_in(uow=uow, workflow=workflow, **details)
        uow.commit()
    return Registered(version, stored=stored, reference=details.get("reference_profile") is not None)


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
    **fields: Any,
) -> ModelVersion:
    """`register` inside a transaction the caller opened and commits (the group-commit writer,
    adapters/db/group_commit.py, runs several in one); raises InvalidInput before writing anything.
    `fields`: the version's other fields (ModelVersion's), kept as given: the registry decides
    nothing on them, so a new one passes from the doors to the repository without a line here."""
    check_model_name(model)
    clean_metrics = check_metrics(metrics or {})
    check_document(metadata or {}, "metadata")
    if not artifact_uri or not isinstance(artifact_uri, str):
        raise InvalidInput("an artifact URI is required", details={"field": "artifact_uri"})
    check_digest(digest)
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
            uow.flush()
            uow.record(actor=actor, action="model.created", subject=f"models/{model}", model=model,
                       after={"name": model, "owner_group": owner_group})
        except AlreadyExists:
            pass  # a concurrent first registration created it (its savepoint is undone): use theirs
        model_ref = uow.models.ref(model)
    assert model_ref is not None  # created above, by this registration or a racing one
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
        **fields,
        stages={env: Stage.PENDING for env in workflow.order},
    )
    version_id = uow.versions.insert(model_ref.id, version, workflow.order)
    uow.record(actor=actor, action="version.registered", subject=version.subject, model=model,
               after=version.to_dict())
    if reference_profile is not None:
        # The training-data profile that inference batches are compared with (drift), audited as
        # when it is set afterwards.
        uow.profiles.put(version_id, reference_profile, source=reference_source, actor=actor, at=now)
        uow.record(actor=actor, action="reference.set", subject=version.subject, model=model,
                   after=reference_audit(reference_profile, reference_source))
    uow.emit(events.registered(
        model=model, version=number, artifact_uri=artifact_uri, digest=digest, flavor=flavor,
        metrics=clean_metrics, registered_by=actor, owner_group=model_ref.owner_group, first_env=workflow.first,
    ))
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
        return uow.versions.to_entity(model_row, uow.versions.row(model_row, version), workflow)


def list_versions(
    *, uow: UnitOfWork, workflow: Workflow, model: str, before: int | None = None, limit: int = 100
) -> list[ModelVersion]:
    """Versions newest first; raises NotFound for an unknown model."""
    with uow:
        model_row = uow.models.row(model)
        return uow.versions.list(model_row, workflow, before=before, limit=limit)


def get_model(*, uow: UnitOfWork, model: str) -> Model:
    """A model; raises NotFound."""
    with uow:
        return uow.models.get(model)


def list_models(*, uow: UnitOfWork, after: str | None = None, limit: int = 100) -> list[Model]:
    with uow:
        return uow.models.list(after=after, limit=limit)


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


def update_metadata(
    *, uow: UnitOfWork, workflow: Workflow, model: str, version: int, actor: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> ModelVersion:
    """Replace a version's metadata with `change(current)` (applied inside the transaction, so
    concurrent updates do not lose each other's keys). Metadata is description, not evidence:
    the artifact, its digest and the metrics stay as registered. Raises NotFound, InvalidInput."""
    with uow:
        model_row = uow.models.row(model)
        row = uow.versions.row(model_row, version)
        before = dict(row.meta or {})
        after = change(dict(before))
        if not isinstance(after, dict):
            raise InvalidInput("metadata must be an object", details={"field": "metadata"})
        if after != before:
            row.meta = after
            subject = f"models/{model}/versions/{version}"
            uow.record(actor=actor, action="version.metadata_updated", subject=subject, model=model,
                       before={"metadata": before}, after={"metadata": after})
            uow.emit(events.metadata_updated(model=model, version=version, actor=actor, metadata=after,
                                             registered_by=row.registered_by))
        out = uow.versions.to_entity(model_row, row, workflow)
        uow.commit()
    return out
