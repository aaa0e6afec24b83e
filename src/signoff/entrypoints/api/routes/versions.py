"""`/api/v1/models/{model}/versions`: register versions, read them, ask for their promotion."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from signoff.bootstrap import Context
from signoff.domain.models import Lineage
from signoff.entrypoints.api.deps import (
    INT32_MAX,
    MAX_PAGE,
    IntCursor,
    context,
    current_principal,
    int_cursor,
    next_cursor,
    require,
)
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import (
    MODEL_NAME,
    ApprovalRequestPublic,
    InferenceReportCreate,
    InferenceReportPublic,
    Page,
    PromotionCreate,
    VersionCreate,
    VersionPublic,
)
from signoff.services import approvals, inference, registry
from signoff.services.tokens import Principal

router = api_router("versions")

VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
NewModelName = Annotated[str, Path(pattern=MODEL_NAME, description="Created with its first version")]


@router.post("/models/{model}/versions", status_code=201, response_model=VersionPublic)
def register_version(model: NewModelName, body: VersionCreate, principal: Principal = Depends(require("register")),
                     ctx: Context = Depends(context)) -> dict[str, Any]:
    """Register the next version of a model (creating the model); the first environment's approvers are asked.
    Scope: register."""
    version = registry.register(
        uow=ctx.uow(), workflow=ctx.workflow, model=model, artifact_uri=body.artifact_uri, actor=principal.name,
        metrics=body.metrics, metadata=body.metadata, lineage=Lineage(body.run_id, body.code_commit, body.dataset_hash),
        flavor=body.flavor, digest=body.digest, description=body.description, owner_group=body.owner_group)
    return version.to_dict()


@router.get("/models/{model}/versions", response_model=Page[VersionPublic])
def list_versions(model: str, cursor: IntCursor = None,
                  limit: int = Query(100, ge=1, le=MAX_PAGE), principal: Principal = Depends(current_principal),
                  ctx: Context = Depends(context)) -> dict[str, Any]:
    """Versions newest first, with their status in every environment."""
    versions = registry.list_versions(uow=ctx.uow(), workflow=ctx.workflow, model=model,
                                      before=int_cursor(cursor, INT32_MAX), limit=limit)
    items = [v.to_dict() for v in versions]
    return {"items": items, "next_cursor": next_cursor(items, limit, "version")}


@router.get("/models/{model}/versions/{version}", response_model=VersionPublic)
def get_version(model: str, version: VersionNumber, principal: Principal = Depends(current_principal),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """One version with its status in every environment."""
    return registry.get_version(uow=ctx.uow(), workflow=ctx.workflow, model=model, version=version).to_dict()


@router.post("/models/{model}/versions/{version}/promotions", status_code=201, response_model=ApprovalRequestPublic)
def request_promotion(model: str, version: VersionNumber, body: PromotionCreate,
                      principal: Principal = Depends(require("register", "report", "decide")),
                      ctx: Context = Depends(context)) -> dict[str, Any]:
    """Open the approval request for an environment; the version must be Approved in the one before.
    Scope: register, report or decide."""
    request = approvals.request_promotion(uow=ctx.uow(), workflow=ctx.workflow, model=model, version=version,
                                          env=body.env, actor=principal.name, reason=body.reason)
    return request.to_dict()


@router.post("/models/{model}/versions/{version}/inference-reports", status_code=201,
             response_model=InferenceReportPublic)
def report_inference(model: str, version: VersionNumber, body: InferenceReportCreate,
                     principal: Principal = Depends(require("report")),
                     ctx: Context = Depends(context)) -> dict[str, Any]:
    """Report an inference batch of a version live in env; opens the next environment's request. Scope: report."""
    report, request = inference.report_inference(
        uow=ctx.uow(), workflow=ctx.workflow, model=model, version=version, env=body.env, actor=principal.name,
        metrics=body.metrics, rows=body.rows, started_at=body.started_at, finished_at=body.finished_at,
        profile=body.profile)
    return {**report, "promotion_request": request.to_dict() if request else None}
