"""`/api/v1/mlflow/webhooks`: MLflow 3 registry webhooks in (the bridge, docs/mlflow.md).

No bearer token: MLflow cannot send one. The delivery is authenticated by its
`X-MLflow-Signature` (HMAC-SHA256 with the secret named by `[mlflow] webhook_secret_env`),
refused when stale or replayed, and answered as soon as it is in the outbox; the bridge's
target does the work (calls back to MLflow, hashing the artifact) after the answer.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import BackgroundTasks, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import ErrorBody
from signoff.errors import NotFound, ServiceUnavailable
from signoff.services.mlflow_bridge import accept_webhook

router = api_router("mlflow")
PATH = "/mlflow/webhooks"


def _secret(request: Request) -> str:
    cached: str | None = getattr(request.app.state, "mlflow_webhook_secret", None)
    if cached:
        return cached
    conf = request.app.state.ctx.settings.mlflow
    if conf is None:
        raise NotFound("the MLflow bridge is not configured on this server ([mlflow] in signoff.toml)")
    secret = os.environ.get(conf.webhook_secret_env or "", "")
    if not conf.webhook_secret_env or not secret:
        raise ServiceUnavailable("MLflow webhooks need a secret: set [mlflow] webhook_secret_env and that "
                                 "environment variable", details={"key": "mlflow.webhook_secret_env"})
    request.app.state.mlflow_webhook_secret = secret  # config is read once per process
    return secret


@router.post(PATH, status_code=202, responses={
    202: {"description": "Queued (or ignored: not governed)"},
    503: {"model": ErrorBody, "description": "No webhook secret configured ([mlflow] webhook_secret_env)"},
})
async def mlflow_webhook(request: Request, background: BackgroundTasks) -> Any:
    """Take an MLflow registry webhook delivery (`model_version.created`,
    `model_version_alias.created`, `model_version_alias.deleted`, `model_version_tag.set`).
    401: bad or missing signature; 400: timestamp too old (or in the future); 409: a delivery id
    taken before. Nothing is written unless the answer is 202."""
    ctx = request.app.state.ctx
    secret = _secret(request)
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    result = await run_in_threadpool(lambda: accept_webhook(
        uow=ctx.uow_without_dispatch(), settings=ctx.settings.mlflow, secret=secret, headers=headers, body=body,
        now=time.time()))
    if result["queued"]:
        # After the answer: MLflow's delivery thread waits for it, and the bridge calls MLflow back.
        background.add_task(ctx.events_committed)
    return JSONResponse(result, status_code=202, background=background)
