"""`/api/v1/models/{model}/versions`: register versions, read them, ask for their promotion.

Registering is what training pipelines do most, so a plain `POST …/versions` (a JSON body, no
query string, no charset) is answered by the hot route declared ahead of the FastAPI route
(`hot_route`, entrypoints/api/hot_routes.py). For a sync endpoint with a response model FastAPI
resolves the dependencies, then hops to the thread pool twice (the endpoint, then validating its
answer): about a third of a registration's cost. The hot route authenticates through the same
functions, validates the body with the same model in the same mode, and writes the body with the
route's own response model. A body that does not validate goes on to the FastAPI route, so every
error answer comes from one place.

Both routes register through `register`: where the process has a group-commit writer
(`app.state.registration_writer`, decided by bootstrap.registration_writer), the registration
is handed to it, and registrations that queue while one commits share the next transaction;
otherwise it runs in its own transaction on the thread pool.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from prometheus_client.core import CounterMetricFamily
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.domain.models import MODEL_NAME as MODEL_NAME_RE
from signoff.domain.models import ModelVersion
from signoff.entrypoints.api.deps import (
    INT32_MAX,
    MAX_PAGE,
    IntCursor,
    authenticated,
    context,
    current_principal,
    int_cursor,
    next_cursor,
    require,
    require_scope,
)
from signoff.entrypoints.api.body_guard import replay
from signoff.entrypoints.api.hot_routes import HotRoute
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
from signoff.adapters.db.group_commit import GroupCommit
from signoff.services import approvals, inference, registry

router = api_router("versions")

REGISTER_ROUTE = "/models/{model}/versions"
REGISTER_PATH = "/api/v1" + REGISTER_ROUTE
_VERSION_OUT = TypeAdapter(VersionPublic)

VersionNumber = Annotated[int, Path(ge=1, le=INT32_MAX)]
NewModelName = Annotated[str, Path(pattern=MODEL_NAME, description="Created with its first version")]


@router.post(REGISTER_ROUTE, status_code=201, response_model=VersionPublic)
async def register_version(model: NewModelName, body: VersionCreate, request: Request,
                           principal: Principal = Depends(require("register"))) -> dict[str, Any]:
    """Register the next version of a model (creating the model); the first environment's approvers are asked.
    Scope: register."""
    return (await register(request.app, principal, model, body)).to_dict()


async def register(app: Any, principal: Principal, model: str, body: VersionCreate) -> ModelVersion:
    """Register through the process's group-commit writer if it has one, else in a transaction of
    its own on the thread pool. For the writer the digest is settled first, off the event loop
    (it may read the artifact); what the registry refuses is refused inside the batch, alone."""
    ctx: Context = app.state.ctx
    details = _details(principal, model, body)
    writer: GroupCommit[ModelVersion] | None = app.state.registration_writer
    if writer is None:
        return (await run_in_threadpool(lambda: registry.register(
            uow=ctx.uow(), workflow=ctx.workflow, local_roots=_local_roots(ctx), **details))).version
    registry.check_registration(details)
    if registry.digest_needs_reading(body.artifact_uri, body.digest):
        await run_in_threadpool(lambda: registry.settle_artifact(details, local_roots=_local_roots(ctx)))
    workflow = ctx.workflow
    future = writer.submit(lambda uow: registry.register_in(uow=uow, workflow=workflow, **details), key=model)
    return await asyncio.wrap_future(future)


def _local_roots(ctx: Context) -> list[str]:
    """Local paths a remote client may register: only inside this server's artifact root."""
    root = ctx.settings.resolved_artifact_root()
    return [] if "://" in root else [root]


def _details(principal: Principal, model: str, body: VersionCreate) -> dict[str, Any]:
    # vars(): the validated fields as they are; dict(body) walks pydantic's iterator, which on this
    # path costs more than everything else that builds the arguments (bench: register)
    return registry.registration_details(model=model, actor=principal.name, fields=vars(body), reference_source="api")


def plain_registration(scope: Scope, params: dict[str, Any]) -> bool:
    """A registration the hot route answers: a valid model name and `Content-Type: application/json`
    exactly (the FastAPI route takes a charset, and words a bad name)."""
    if not MODEL_NAME_RE.fullmatch(params["model"]):
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value == b"application/json")
    return False


async def _hot_register(scope: Scope, receive: Receive, send: Send, fallback: ASGIApp) -> None:
    request = Request(scope, receive)
    principal = require_scope(authenticated(request), ("register",))
    body = await request.body()
    try:
        data = VersionCreate.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # not JSON, or not a valid body: FastAPI words the error
        await fallback(scope, replay(body, receive), send)
        return
    content = _json((await register(scope["app"], principal, scope["path_params"]["model"], data)).to_dict())
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]})
    await send({"type": "http.response.body", "body": content})


def hot_route() -> HotRoute:
    """Plain registrations, ahead of the FastAPI route (one per app)."""
    return HotRoute(REGISTER_PATH, "POST", _hot_register, plain=plain_registration)


class WriterCollector:
    """/metrics: how much group commit happened (registrations per transaction)."""

    def __init__(self, writer: GroupCommit[Any]) -> None:
        self.writer = writer

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily("signoff_registration_batches", "Transactions of the registration writer",
                                  value=self.writer.batches)
        yield CounterMetricFamily("signoff_registrations_batched", "Registrations handed to the registration writer",
                                  value=self.writer.submitted)


def _json(version: dict[str, Any]) -> bytes:
    return _VERSION_OUT.dump_json(_VERSION_OUT.validate_python(version), by_alias=True)


@router.get("/models/{model}/versions", response_model=Page[VersionPublic])
def list_versions(model: str, cursor: IntCursor = None,
                  limit: int = Query(100, ge=1, le=MAX_PAGE), principal: Principal = Depends(current_principal),
                  ctx: Context = Depends(context)) -> dict[str, Any]:
    """Versions newest first, with their status in every environment."""
    versions = registry.list_versions(uow=ctx.read_uow(), workflow=ctx.workflow, model=model,
                                      before=int_cursor(cursor, INT32_MAX), limit=limit)
    items = [v.to_dict() for v in versions]
    return {"items": items, "next_cursor": next_cursor(items, limit, "version")}


@router.get("/models/{model}/versions/{version}", response_model=VersionPublic)
def get_version(model: str, version: VersionNumber, principal: Principal = Depends(current_principal),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """One version with its status in every environment."""
    return registry.get_version(uow=ctx.read_uow(), workflow=ctx.workflow, model=model, version=version).to_dict()


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
