"""`create_app(settings_or_context)`: the FastAPI application, wired once per process."""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CollectorRegistry

from signoff import __version__
from signoff.bootstrap import Context, bootstrap, registration_writer
from signoff.config import Settings, load_settings
from signoff.entrypoints.api import access_log, errors, hot_routes
from signoff.entrypoints.api.deps import bearer_authenticator
from signoff.entrypoints.api.middleware import ApiMiddleware, RequestMetrics
from signoff.entrypoints.api.routes import (
    approval_requests,
    audit,
    environments,
    events,
    health,
    lifecycle,
    models,
    parameters,
    sessions,
    tokens,
    users,
    versions,
)
from signoff.entrypoints.api.routes import mlflow as mlflow_routes
from signoff.entrypoints.api.routes import aws_keys, deliveries, rules, signing
from signoff.entrypoints.aws import mount_aws
from signoff.entrypoints.web import mount_web
from signoff.adapters.db.credentials import TokenVerifier

ROUTERS = [models.router, versions.router, environments.router, approval_requests.router, parameters.router,
           audit.router, events.router, health.router, lifecycle.router, users.router, tokens.router]
ROUTERS.append(sessions.router)  # sign-in with local or directory accounts
ROUTERS += [rules.router, deliveries.router]  # the event bus
ROUTERS.append(mlflow_routes.router)  # the MLflow bridge's webhook intake
ROUTERS.append(aws_keys.router)  # keys for the AWS doors (entrypoints/aws)
ROUTERS += [signing.router, signing.well_known]  # keys, attestations, audit checkpoints

DESCRIPTION = """Model registry with human sign-off. Every request under `/api/v1` needs
`Authorization: Bearer <token>` (`signoff tokens create`). Errors are
`{"error": {"code", "message", "details"}}`; lists are pages `{"items", "next_cursor"}`."""


def create_app(target: Context | Settings | None = None) -> FastAPI:
    """The API over an existing Context (tests, embedded servers) or one bootstrapped from settings."""
    owns = not isinstance(target, Context)
    ctx = target if isinstance(target, Context) else bootstrap(target or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for stop in reversed(app.state.on_shutdown):  # background threads first, then the database
            stop()
        if owns:
            ctx.close()

    # /docs and /redoc are the web UI's (entrypoints/web/api_docs.py): FastAPI's own load from a CDN.
    app = FastAPI(title="signoff", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, **_telemetry_off())
    app.state.ctx = ctx
    app.state.verifier = TokenVerifier(ctx.engine, ctx.clock, ttl=ctx.settings.server.token_cache_seconds)
    app.state.authenticators = [bearer_authenticator]
    app.state.on_shutdown = []  # callables run when the server stops (in-process workers…)
    app.state.metrics_registry = CollectorRegistry()
    app.state.metrics_registry.register(health.RegistryCollector(ctx.engine))
    app.state.metrics_registry.register(deliveries.DeliveryCollector(
        ctx, cache_seconds=ctx.settings.server.metrics_cache_seconds))
    app.state.metrics_registry.register(signing.AuditCollector(ctx))
    errors.install(app)
    access_log.install()  # review-link tokens never reach the access log
    for router in ROUTERS:
        app.include_router(router)
    # Resolve and register: raw ASGI routes for their plain requests, ahead of the FastAPI ones.
    hot = [environments.hot_route(), versions.hot_route()]
    hot_routes.declare(app, hot)
    app.state.registration_writer = writer = registration_writer(ctx)
    if writer is not None:
        app.state.on_shutdown.append(writer.close)  # what is queued commits before the database closes
        app.state.metrics_registry.register(versions.WriterCollector(writer))
    mount_web(app, ctx)  # the web UI: pages, static files, session-cookie authenticator
    mount_aws(app, ctx)  # the AWS-compatible doors: SSM and SageMaker over SigV4 (entrypoints/aws)
    app.add_middleware(ApiMiddleware, max_body_bytes=ctx.settings.server.max_body_bytes,
                       metrics=RequestMetrics(app.state.metrics_registry), hot_routes=hot)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented schema hook
    return app


def _telemetry_off() -> dict[str, Any]:
    """FastAPI's native OpenTelemetry layer asks the global providers on every request whether
    one is configured (a tenth of a cached resolve). Unless the environment configures
    OpenTelemetry, it is turned off: signoff's own figures are in /metrics."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    if any(name.startswith("OTEL_") or name == "FASTAPI_OTEL_AUTO_CONFIGURE" for name in os.environ):
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema; operations that authenticate carry the bearer scheme (see deps.BEARER)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    if app.state.ctx.settings.server.anonymous_resolve:
        resolve = schema["paths"].get(environments.PATH, {}).get("get")
        if resolve is not None:
            resolve["security"] = [*resolve.get("security", []), {}]  # {}: no credentials also accepted
    app.openapi_schema = schema
    return schema
