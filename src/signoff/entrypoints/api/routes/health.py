"""`/healthz` (the process answers), `/readyz` (database reachable, schema current), `/metrics`.

None of these needs credentials: load balancers and Prometheus call them. Why `/readyz` is not
ready (the database's error, pending migrations) is shown only to an authenticated admin: the
driver's text names hosts, ports and users.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from signoff.adapters.db import migrate
from signoff.adapters.db.engine import READ_ONLY
from signoff.adapters.db.outage import RETRY_AFTER_SECONDS
from signoff.adapters.db.tables import ModelRow, RequestRow
from signoff.entrypoints.api.deps import authenticate
from signoff.entrypoints.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic)
async def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok", "details": {}}


@router.get("/readyz", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
def readyz(request: Request) -> Any:
    """The database answers and has every migration this release knows (or a newer schema).
    The reason for a 503 is in `details` for an admin (a token with the admin scope) only."""
    engine = request.app.state.ctx.engine
    try:
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            conn.execute(select(1))
    except Exception as exc:  # any driver error means "not ready", never a 500
        return _not_ready(request, {"database": str(exc).splitlines()[0][:200]})
    # A schema newer than this code counts as ready: an older process during a rolling upgrade.
    if migrate.needs_upgrade(engine):
        return _not_ready(request, {"migrations": "pending: run `signoff db upgrade`"})
    return {"status": "ok", "details": {}}


def _not_ready(request: Request, details: dict[str, str]) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "details": details if _is_admin(request) else {}},
                        status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _is_admin(request: Request) -> bool:
    try:
        principal = authenticate(request)
    except Exception:  # bad credentials, or none checkable while the database is away: not an admin
        return False
    return principal is not None and principal.allows("admin")


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format: request counts and latencies by route, models, versions, open requests."""
    return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)


class RegistryCollector(Collector):
    """Counts read from the database at scrape time (never on the request path), each through
    an index or the models table: cheap at any number of versions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queries = [
            ("signoff_models", "Registered models", select(func.count()).select_from(ModelRow)),
            # Version numbers are gapless per model and versions are never deleted, so the sum of
            # each model's latest number is the count, without scanning model_versions.
            ("signoff_versions", "Registered model versions",
             select(func.coalesce(func.sum(ModelRow.latest_version), 0))),
            ("signoff_open_requests", "Open approval requests",
             select(func.count()).select_from(RequestRow).where(RequestRow.state == "open")),
        ]
        # One statement: on a busy host every round trip waits for the CPU twice.
        together = select(*(q.scalar_subquery() for _, _, q in queries))
        try:
            with self.engine.connect().execution_options(**READ_ONLY) as conn:
                row = conn.execute(together).one()
        except Exception:
            return
        values = [(name, text, value) for (name, text, _), value in zip(queries, row, strict=True)]
        for name, text, value in values:
            yield GaugeMetricFamily(name, text, value=float(value))
