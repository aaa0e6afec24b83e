"""`/api/v1/models/{model}/versions`: register versions, read them, ask for their promotion.

Registering is what training pipelines do most, so a plain `POST …/versions` with a JSON body
that validates is answered by `fast_register`, which the API middleware calls before routing
(as it does for resolve). For a sync endpoint with a response model FastAPI resolves the
dependencies, then hops to the thread pool twice (the endpoint, then validating its answer):
about a third of a registration's cost. The fast path authenticates through the same
functions, validates the body with the same model in the same mode, hops once, and writes the
body with the route's own response model. Anything else (a bad body, a charset in the media
type, a query string) goes to the FastAPI route, so every error answer comes from one place.

On SQLite with events left to a worker (`[events] inline = false`), the fast path hands the
registration to the process's group-commit writer (services/batched_registrations.py) instead
of the thread pool: registrations that queue while one commits share the next transaction.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from prometheus_client.core import CounterMetricFamily
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from signoff.adapters.db.engine import is_sqlite
from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.domain.models import Lineage
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
from signoff.entrypoints.api.errors import signoff_error_response
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
from signoff.errors import SignoffError
from signoff.services import approvals, inference, registry
from signoff.services.batched_registrations import RegistrationWriter

router = api_router("versions")

REGISTER_ROUTE = "/models/{model}/versions"
REGISTER_PATH = "/api/v1" + REGISTER_ROUTE
_PREFIX = "/api/v1/models/"
_MODEL_NAME = re.compile(MODEL_NAME)
_VERSION_OUT = TypeAdapter(VersionPublic)

VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
NewModelName = Annotated[str, Path(pattern=MODEL_NAME, description="Created with its first version")]


@router.post(REGISTER_ROUTE, status_code=201, response_model=VersionPublic)
def register_version(model: NewModelName, body: VersionCreate, principal: Principal = Depends(require("register")),
                     ctx: Context = Depends(context)) -> dict[str, Any]:
    """Register the next version of a model (creating the model); the first environment's approvers are asked.
    Scope: register."""
    return _register(ctx, principal, model, body)


def _register(ctx: Context, principal: Principal, model: str, body: VersionCreate) -> dict[str, Any]:
    return registry.register(uow=ctx.uow(), workflow=ctx.workflow, local_roots=_local_roots(ctx),
                             **_details(principal, model, body)).to_dict()


def _local_roots(ctx: Context) -> list[str]:
    """Local paths a remote client may register: only inside this server's artifact root."""
    root = ctx.settings.resolved_artifact_root()
    return [] if "://" in root else [root]


def _details(principal: Principal, model: str, body: VersionCreate) -> dict[str, Any]:
    return {"model": model, "artifact_uri": body.artifact_uri, "actor": principal.name, "metrics": body.metrics,
            "metadata": body.metadata, "lineage": Lineage(body.run_id, body.code_commit, body.dataset_hash),
            "flavor": body.flavor, "digest": body.digest, "description": body.description,
            "owner_group": body.owner_group}


def fast_register_target(scope: Scope) -> str | None:
    """The model of a plain registration POST the fast path may answer (JSON body, no query)."""
    if scope["method"] != "POST" or scope.get("query_string") or not scope["path"].startswith(_PREFIX):
        return None
    model, _, rest = scope["path"][len(_PREFIX):].partition("/")
    if rest != "versions" or not _MODEL_NAME.fullmatch(model):
        return None
    for name, value in scope["headers"]:
        if name == b"content-type":
            return model if value == b"application/json" else None
    return None


async def fast_register(scope: Scope, receive: Receive, send: Send, model: str, body: bytes,
                        fallback: Any) -> None:
    """Answer a registration, or hand the request to `fallback` (the FastAPI app) unread."""
    request = Request(scope, receive)
    try:
        principal = require_scope(authenticated(request), ("register",))
    except SignoffError as exc:
        await signoff_error_response(exc)(scope, receive, send)
        return
    try:
        data = VersionCreate.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # not JSON, or not a valid body: FastAPI words the error
        await fallback(scope, receive, send)
        return
    ctx: Context = scope["app"].state.ctx
    try:
        writer = registration_writer(scope["app"])
        if writer is not None:
            details = _details(principal, model, data)
            if registry.digest_needs_reading(data.artifact_uri, data.digest):
                details["digest"] = await run_in_threadpool(lambda: registry.settle_digest(
                    data.artifact_uri, data.digest, local_roots=_local_roots(ctx)))
            content = _json((await asyncio.wrap_future(writer.submit(**details))).to_dict())
        else:
            content = await run_in_threadpool(lambda: _json(_register(ctx, principal, model, data)))
    except SignoffError as exc:
        await signoff_error_response(exc)(scope, receive, send)
        return
    await Response(content, status_code=201, media_type="application/json")(scope, receive, send)


def registration_writer(app: Any) -> RegistrationWriter | None:
    """The process's group-commit writer (services/batched_registrations.py) when registrations
    may share transactions: on SQLite, and without inline dispatch (a request answered from a
    batch would not wait for its events' rules). Started on first use, stopped with the server."""
    ctx: Context = app.state.ctx
    if ctx.dispatch_inline or not is_sqlite(ctx.engine):
        return None
    writer: RegistrationWriter | None = getattr(app.state, "registration_writer", None)
    if writer is None:
        writer = app.state.registration_writer = RegistrationWriter(ctx.uow, ctx.workflow)
        app.state.on_shutdown.append(writer.close)  # run in reverse: before in-process workers, the database
        app.state.metrics_registry.register(_WriterCollector(writer))
    return writer


class _WriterCollector:
    """/metrics: how much group commit happened (registrations per transaction)."""

    def __init__(self, writer: RegistrationWriter) -> None:
        self.writer = writer

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily("signoff_registration_batches", "Transactions of the registration writer",
                                  value=self.writer.batches)
        yield CounterMetricFamily("signoff_registrations_batched", "Registrations handed to the registration writer",
                                  value=self.writer.registrations)


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
