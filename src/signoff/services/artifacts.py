"""Artifacts at the edges of the workflow: storing one at registration, refusing a changed one."""

from __future__ import annotations

from typing import Any

from signoff.domain import events
from signoff.errors import InvalidInput
from signoff.services.ports import ArtifactReader, UnitOfWork

# Installed once by bootstrap: the reader is stateless and the same for every context, and
# registration, rollback and the MLflow bridge are reached through many doors that would
# otherwise each have to carry it.
_reader: ArtifactReader | None = None


def install_reader(reader: ArtifactReader) -> None:
    global _reader
    _reader = reader


def reader() -> ArtifactReader:
    """The installed artifact reader; raises RuntimeError before bootstrap installed one."""
    if _reader is None:
        raise RuntimeError("no artifact reader installed: build the context with signoff.bootstrap.bootstrap")
    return _reader


def digest_of(uri: str) -> str:
    """The sha256 digest of an artifact's bytes (a directory: of its manifest)."""
    return reader().digest_of(uri)


def store_artifact(*, store: Any, source: str, flavor: str | None = None) -> dict[str, Any]:
    """Copy an artifact into the store; returns {uri, digest, flavor, kind, size}. Raises NotFound, InvalidInput."""
    files = reader()
    files.check_flavor(flavor)
    stored = store.put(source)
    if flavor is None:
        try:
            flavor = files.detect_flavor(stored.uri)
        except InvalidInput:
            flavor = None  # not a format signoff loads; registering it is still fine, loading will say why
    return {**stored.to_dict(), "flavor": flavor}


def record_mismatch(
    *, uow: UnitOfWork, model: str, version: int, env: str | None, uri: str, expected: str | None,
    actual: str | None, actor: str,
) -> None:
    """Audit and announce a refused load in its own transaction (the refusal must leave a trace); raises NotFound.

    Only the first report of each (version, observed digest) is audited and announced; repeats are
    counted on it. Every pipeline that resolves the version reports the same fault, and a resolve
    token must not be able to write the audit log without bound."""
    event = events.artifact_mismatch(model=model, version=version, env=env, artifact_uri=uri, expected_digest=expected,
                                     digest=actual, loaded_by=actor)
    with uow:
        row = uow.versions.row(uow.models.row(model), version)  # NotFound for a version that does not exist
        if not uow.mismatches.first_report(row.id, actual or "", actor=actor, at=uow.clock.now()):
            uow.commit()
            return
        uow.record(actor=actor, action="artifact.digest_mismatch", subject=event.subject, model=model,
                   after=event.data)
        uow.emit(event)
        uow.commit()
