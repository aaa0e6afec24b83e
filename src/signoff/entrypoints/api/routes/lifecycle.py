"""After approval, over HTTP: rollback, revoke, break-glass, reference profiles, refused loads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.domain.models import INT32_MAX
from signoff.entrypoints.api.deps import context, current_principal, require
from signoff.entrypoints.api.routes import api_router
from signoff.services import artifacts, drift, lifecycle

router = api_router("lifecycle")

VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX)]
Reason = Annotated[str, Field(max_length=10_000)]
Digest = Annotated[str, Field(max_length=80)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RollbackCreate(_In):
    to_version: Annotated[int, Field(ge=1, le=INT32_MAX)] | None = None
    reason: Reason = ""


class RevocationCreate(_In):
    reason: Annotated[str, Field(min_length=1, max_length=10_000)]
    only_env: bool = Field(False, description="Revoke in this environment only, not in the later ones too")


class BreakGlassCreate(_In):
    justification: Annotated[str, Field(min_length=1, max_length=10_000)]


class ArtifactMismatchCreate(_In):
    env: Annotated[str, Field(max_length=64)] | None = None
    artifact_uri: Annotated[str, Field(max_length=4096)]
    expected_digest: Digest | None = None
    digest: Digest | None = None


@router.post("/models/{model}/environments/{env}/rollbacks", status_code=201)
def rollback(model: str, env: str, body: RollbackCreate, principal: Principal = Depends(require("decide")),
             ctx: Context = Depends(context)) -> dict[str, Any]:
    """Make an earlier version Approved in env live again (default: the previous one). Scope: decide, and
    membership in one of the environment's approver groups."""
    return lifecycle.rollback(uow=ctx.uow(), workflow=ctx.workflow, model=model, env=env, actor=principal.name,
                              to_version=body.to_version, reason=body.reason)


@router.post("/models/{model}/versions/{version}/environments/{env}/revocations", status_code=201)
def revoke(model: str, version: VersionNumber, env: str, body: RevocationCreate,
           principal: Principal = Depends(require("decide")), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Mark a version Revoked in env and every later environment where it is Approved (`only_env`: env
    alone); wherever it was live, the previous approved version (or none) goes live. One transaction,
    one event per environment. Scope: decide, and membership in one of env's approver groups."""
    return lifecycle.revoke(uow=ctx.uow(), workflow=ctx.workflow, model=model, version=version, env=env,
                            actor=principal.name, reason=body.reason, only_env=body.only_env)


@router.post("/models/{model}/versions/{version}/environments/{env}/break-glass", status_code=201)
def break_glass(model: str, version: VersionNumber, env: str, body: BreakGlassCreate,
                principal: Principal = Depends(require("decide")), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Emergency: make a version live in env without its approval, with a written justification.
    Scope: decide, and membership in the emergency group. Audited and announced."""
    return lifecycle.break_glass(uow=ctx.uow(), workflow=ctx.workflow, model=model, version=version, env=env,
                                 actor=principal.name, justification=body.justification,
                                 emergency_group=ctx.settings.emergency_group)


@router.put("/models/{model}/versions/{version}/reference-profile")
def set_reference(model: str, version: VersionNumber, body: dict[str, Any],
                  principal: Principal = Depends(require("register")),
                  ctx: Context = Depends(context)) -> dict[str, Any]:
    """Set the version's reference profile (its training data's profile), which drift is measured
    against. Scope: register; only the version's registrant or an admin, and only until the version is
    approved beyond its first environment (403 / 409)."""
    drift.set_reference(uow=ctx.uow(), workflow=ctx.workflow, model=model, version=version, profile=body,
                        actor=principal.name, admin=principal.allows("admin"), source="api")
    return {"model": model, "version": version, "features": sorted(body.get("features", {}))}


@router.get("/models/{model}/versions/{version}/reference-profile")
def get_reference(model: str, version: VersionNumber, principal: Principal = Depends(current_principal),
                  ctx: Context = Depends(context)) -> dict[str, Any]:
    """The version's reference profile."""
    return drift.get_reference(uow=ctx.read_uow(), model=model, version=version)


@router.post("/models/{model}/versions/{version}/artifact-mismatches", status_code=204)
def artifact_mismatch(model: str, version: VersionNumber, body: ArtifactMismatchCreate,
                      principal: Principal = Depends(require("resolve")), ctx: Context = Depends(context)) -> None:
    """A client refused to load this version because its artifact's digest did not match: audited and
    announced as `signoff.artifact.digest_mismatch`. Scope: resolve."""
    artifacts.record_mismatch(uow=ctx.uow(), model=model, version=version, env=body.env, uri=body.artifact_uri,
                              expected=body.expected_digest, actual=body.digest, actor=principal.name)
