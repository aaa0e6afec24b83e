"""Web UI pages at scale: /models (first, deep and searched pages) and the board of a model with
many versions, through the real app (in-process ASGI client, signed in through the form).

Seeded in bulk (seed.py): 10,000 models with 10 versions each (100,000 versions) and one model
with 2,000 versions. Reports p50/p99 in ms per page; the issue's target is p99 < 100 ms.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from databases import Database
from fastapi.testclient import TestClient
from seed import seed_versions, settle

from signoff.adapters.passwords import hash_password
from signoff.bootstrap import bootstrap
from signoff.config import Settings
from signoff.entrypoints.api import create_app
from signoff.services import accounts

MODELS, VERSIONS, BIG = 10_000, 10, 2_000
REQUESTS = 60


def _signed_in(http: TestClient) -> None:
    page = http.get("/signin").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = http.post("/signin", data={"name": "bench", "password": "bench-pass-1", "csrf_token": token,
                                          "next": "/models"}, follow_redirects=False)
    assert response.status_code == 303, response.text


def _timings(http: TestClient, path: str, expect: str) -> dict[str, float]:
    samples = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        response = http.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200 and expect in response.text, (path, response.status_code)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2), "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 2)}


def run_ui_bench(database: Database | None = None) -> dict[str, Any]:
    database = database or Database("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp))
        settings.database_url = database.fresh_url(Path(tmp), "ui")
        ctx = bootstrap(settings, migrate_schema=True)
        try:
            order = list(ctx.workflow.order)
            started = time.perf_counter()
            seed_versions(ctx.engine, models=[f"model-{i:05d}" for i in range(MODELS)], versions=VERSIONS, envs=order)
            seed_versions(ctx.engine, models=["big"], versions=BIG, envs=order)
            settle(ctx.engine)
            seeded = time.perf_counter() - started
            accounts.add_user(uow=ctx.uow(), name="bench", actor="bench", password_hash=hash_password("bench-pass-1"))
            with TestClient(create_app(ctx)) as http:
                _signed_in(http)
                pages = {
                    "models_first_page": ("/models", f"of {MODELS + 1} models"),
                    "models_page_150": ("/models?page=150", "page 150 of"),
                    "models_search_name": ("/models?q=model-09", "of 1000 models"),
                    "models_search_tag": ("/models?tag=team%3Dnone", "No model matches"),
                    "models_live_in_prod": (f"/models?live={order[-1]}", "No model matches"),
                    "board_first_page": ("/models/big", f"of {BIG} versions"),
                    "board_last_page": (f"/models/big?page={BIG // 50}", f"of {BIG} versions"),
                }
                out: dict[str, Any] = {name: _timings(http, path, expect) for name, (path, expect) in pages.items()}
        finally:
            ctx.close()
    out["seeded"] = {"models": MODELS + 1, "versions": MODELS * VERSIONS + BIG, "seconds": round(seeded, 1)}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run_ui_bench(), indent=2))
