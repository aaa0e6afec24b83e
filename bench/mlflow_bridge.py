"""The MLflow bridge's figures against a real `mlflow server` (the tests' launcher, `.venv-mlflow`).

- intake latency, webhook: `POST model-versions/create` on MLflow → the signoff approval request
  for that version is open. MLflow delivers a signed webhook to a signoff API server (uvicorn in
  this process, on loopback), which queues it and answers; its dispatcher takes the version in.
- intake latency, sync: the same, with `Bridge.sync()` polling every SYNC_INTERVAL seconds in a
  thread (so about half an interval is waiting for the next poll), plus the time of one pass.
- alias latency: an approval in signoff → MLflow answers the environment's alias with the version
  (the `mlflow` target runs right after the decision's commit, inline).

Versions are created over MLflow's REST API with a small local artifact (what `create_model_version`
sends); the webhook is created with MLflow's own client from the server's venv. `python
bench/mlflow_bridge.py` prints the JSON for SQLite.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.fixtures.mlflow_server
from databases import Database, Unavailable  # noqa: E402
from tests.fixtures.mlflow_server import MlflowServer, mlflow_executable  # noqa: E402

from signoff.bootstrap import bootstrap, mlflow_bridge  # noqa: E402
from signoff.config import Settings  # noqa: E402

SAMPLES = int(os.environ.get("SIGNOFF_BENCH_MLFLOW_SAMPLES", "30"))
SYNC_INTERVAL = 1.0
SECRET_ENV = "SIGNOFF_BENCH_MLFLOW_SECRET"
EVENTS = ["model_version.created", "model_version_alias.created", "model_version_alias.deleted",
          "model_version_tag.set"]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p99_ms": round(p99 * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1), "samples": len(ordered)}


class _Api:
    """Uvicorn serving signoff's app from a daemon thread."""

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _settings(home: Path, url: str, mlflow_url: str, prefix: str) -> Settings:
    settings = Settings(home=home, environments={"order": ["dev", "prod"], "dev": {"approvers": ["reviewers"]},
                                                  "prod": {"approvers": ["leads"]}},
                        users={"dana": {"groups": ["ds"]}, "rita": {"groups": ["reviewers"]}},
                        mlflow={"tracking_uri": mlflow_url, "models": [f"{prefix}-*"],
                                "webhook_secret_env": SECRET_ENV})
    settings.database_url = url
    return settings


def _wait(check: Any, timeout: float = 60) -> float:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the bridge did not get there in time")
        time.sleep(0.005)
    return time.perf_counter()


def _open_request(ctx: Any, model: str, number: int) -> bool:
    with ctx.uow_without_dispatch() as uow:
        model_row = uow.models.find(model)
        if model_row is None:
            return False
        try:
            version = uow.versions.row(model_row, number)
        except Exception:  # noqa: BLE001 - not registered yet
            return False
        return uow.requests.open_for(version.id, "dev") is not None


def _run_with_model(mlflow: httpx.Client) -> tuple[str, str]:
    """A run with a metric and a 64 KiB model file in its artifact directory (MLflow accepts a local
    version source only inside its run's artifacts); returns (run id, source)."""
    run = mlflow.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]
    mlflow.post("/api/2.0/mlflow/runs/log-metric", json={"run_id": run["run_id"], "key": "accuracy", "value": 0.93,
                                                          "timestamp": int(time.time() * 1000)}).raise_for_status()
    model = Path(run["artifact_uri"].removeprefix("file://")) / "model"
    model.mkdir(parents=True)
    (model / "model.bin").write_bytes(os.urandom(64 * 1024))
    return run["run_id"], str(model)


def _intake(ctx: Any, mlflow: httpx.Client, name: str) -> list[float]:
    mlflow.post("/api/2.0/mlflow/registered-models/create", json={"name": name}).raise_for_status()
    run_id, source = _run_with_model(mlflow)
    out = []
    for number in range(1, SAMPLES + 1):
        started = time.perf_counter()
        mlflow.post("/api/2.0/mlflow/model-versions/create",
                    json={"name": name, "source": source, "run_id": run_id}).raise_for_status()
        out.append(_wait(lambda: _open_request(ctx, name, number)) - started)
        time.sleep(0.05)
    return out


def _alias_latency(ctx: Any, mlflow: httpx.Client, name: str, model: str, count: int) -> list[float]:
    from signoff.services import approvals

    out = []
    for number in range(1, count + 1):
        request = approvals.find_open_request(uow=ctx.uow(), workflow=ctx.workflow, model=model, version=number,
                                              env="dev")
        started = time.perf_counter()
        approvals.decide(uow=ctx.uow(), workflow=ctx.workflow, request_id=request.id, actor="rita",
                         verdict="approve")

        def moved() -> bool:
            got = mlflow.get("/api/2.0/mlflow/registered-models/get", params={"name": name}).json()
            return any(a["alias"] == "dev" and a["version"] == str(number)
                       for a in got["registered_model"].get("aliases", []))

        out.append(_wait(moved) - started)
    return out


def run_mlflow_bridge_bench(database: Database) -> dict[str, Any]:
    executable = mlflow_executable()
    if executable is None:
        raise Unavailable("no MLflow server: `make mlflow-server` builds .venv-mlflow")
    os.environ[SECRET_ENV] = uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        server = MlflowServer(home / "mlflow", executable)
        started = time.perf_counter()
        server.start()
        result: dict[str, Any] = {"mlflow_start_s": round(time.perf_counter() - started, 1),
                                  "mlflow_version": subprocess.run([str(executable), "--version"], text=True,
                                                                   capture_output=True).stdout.strip()}
        mlflow = httpx.Client(base_url=server.url, timeout=30)
        try:
            # Webhook intake: signoff's API server receives MLflow's deliveries.
            ctx = bootstrap(_settings(home / "wh", database.fresh_url(home, "webhook"), server.url, "wh"),
                            migrate_schema=True)
            from signoff.entrypoints.api import create_app

            api = _Api(create_app(ctx))
            hook = subprocess.run([str(executable.parent / "python"), "-c", (
                "import sys; from mlflow import MlflowClient; "
                "print(MlflowClient(sys.argv[1]).create_webhook(name='signoff', url=sys.argv[2], "
                "events=sys.argv[4].split(','), secret=sys.argv[3]).webhook_id)"),
                server.url, f"{api.url}/api/v1/mlflow/webhooks", os.environ[SECRET_ENV], ",".join(EVENTS)],
                capture_output=True, text=True, check=True).stdout.strip()
            try:
                webhook = _intake(ctx, mlflow, "wh-model")
                alias = _alias_latency(ctx, mlflow, "wh-model", "wh-model", min(SAMPLES, 20))
            finally:
                api.stop()
                ctx.close()
                subprocess.run([str(executable.parent / "python"), "-c",
                                "import sys; from mlflow import MlflowClient; "
                                "MlflowClient(sys.argv[1]).delete_webhook(sys.argv[2])", server.url, hook],
                               check=True, capture_output=True)
            result["intake_webhook"] = _percentiles(webhook)
            result["alias_after_approval"] = _percentiles(alias)

            # Sync intake: a poller thread, no webhook.
            ctx = bootstrap(_settings(home / "sync", database.fresh_url(home, "sync"), server.url, "sync"),
                            migrate_schema=True)
            bridge = mlflow_bridge(ctx)
            stop = threading.Event()
            passes: list[float] = []

            def poll() -> None:
                while not stop.is_set():
                    t0 = time.perf_counter()
                    bridge.sync()
                    passes.append(time.perf_counter() - t0)
                    stop.wait(SYNC_INTERVAL)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            try:
                sync = _intake(ctx, mlflow, "sync-model")
            finally:
                stop.set()
                poller.join(30)
                bridge.rest.close()
                ctx.close()
            result["intake_sync"] = {**_percentiles(sync), "poll_interval_s": SYNC_INTERVAL}
            result["sync_pass"] = _percentiles(passes)
        finally:
            mlflow.close()
            server.remove()
    return result


if __name__ == "__main__":
    print(json.dumps({"sqlite": run_mlflow_bridge_bench(Database("sqlite"))}, indent=2))
