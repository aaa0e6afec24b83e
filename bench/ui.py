"""Web UI pages at scale: /models (first, deep and searched pages), the board of a model with
many versions, and the review page, through the real app (in-process ASGI client, signed in
through the form).

Seeded in bulk (seed.py): 10,000 models with 10 versions each (100,000 versions) and one model
with 2,000 versions. On top, through the services as a pipeline would: a model whose v1 is live
in dev with a 30-feature reference profile, a dev batch in which ten features changed unit
(the promotion request to test shows their drift), and v2 waiting in dev beside the live v1
(the review page draws candidate against live). Reports p50/p99 in ms per page; the issue's
target is p99 < 100 ms.
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


FEATURES = [f"feature {i:02d}" for i in range(30)]
DIGEST = "sha256:" + "ab" * 32


def _review_story(ctx: Any) -> dict[str, int]:
    """v1 live in dev with drift behind its test request; v2 waiting in dev; returns request ids."""
    import numpy as np

    from signoff.domain.drift import profile_columns
    from signoff.sdk._embedded import EmbeddedClient

    accounts.add_user(uow=ctx.uow(), name="dana", actor="bench", groups=["data-science"])
    accounts.add_user(uow=ctx.uow(), name="rita", actor="bench", groups=["ml-reviewers"])
    dana, rita = EmbeddedClient(actor="dana", context=ctx), EmbeddedClient(actor="rita", context=ctx)
    rng = np.random.default_rng(0)

    def columns(rows: int, scaled: int) -> dict[str, Any]:
        return {f: rng.normal(10 + i, 1, rows) * (1000 if i < scaled else 1) for i, f in enumerate(FEATURES)}

    reference = profile_columns(columns(5000, 0))
    for n in (1, 2):
        dana.register("churn", f"s3://bench/churn/{n}.pkl", digest=DIGEST, reference=reference,
                      metrics={"accuracy": 0.95 + n / 100, "f1": 0.94 + n / 100, "auc": 0.98},
                      run_id=f"run-{n}", code_commit=f"c{n}", dataset_hash=f"d{n}", metadata={"C": n})
        if n == 1:
            rita.approve("churn", 1, "dev")
            dana.report_inference("churn", 1, "dev", metrics={"accuracy": 0.93, "f1": 0.92, "auc": 0.97},
                                  rows=2000, profile=profile_columns(columns(2000, 10)))
    return {"drift": dana.open_request("churn", 1, "test").id, "live": dana.open_request("churn", 2, "dev").id}


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
            accounts.add_user(uow=ctx.uow(), name="bench", actor="bench", groups=["ml-reviewers"],
                              password_hash=hash_password("bench-pass-1"))
            review = _review_story(ctx)
            with TestClient(create_app(ctx)) as http:
                _signed_in(http)
                pages = {
                    "models_first_page": ("/models", f"of {MODELS + 2} models"),  # + big + churn
                    "models_page_150": ("/models?page=150", "page 150 of"),
                    "models_search_name": ("/models?q=model-09", "of 1000 models"),
                    "models_search_tag": ("/models?tag=team%3Dnone", "No model matches"),
                    "models_live_in_prod": (f"/models?live={order[-1]}", "No model matches"),
                    "board_first_page": ("/models/big", f"of {BIG} versions"),
                    "board_last_page": (f"/models/big?page={BIG // 50}", f"of {BIG} versions"),
                    "board_with_history": ("/models/churn", "Live over time"),
                    "review_candidate_vs_live": (f"/requests/{review['live']}", "v1 (live)"),
                    "review_with_drift": (f"/requests/{review['drift']}", "10 of 30 features drifted"),
                    "compare_versions": ("/models/churn/compare", "Lineage, digest and metadata"),
                }
                out: dict[str, Any] = {name: _timings(http, path, expect) for name, (path, expect) in pages.items()}
        finally:
            ctx.close()
    out["seeded"] = {"models": MODELS + 2, "versions": MODELS * VERSIONS + BIG + 2, "seconds": round(seeded, 1)}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run_ui_bench(), indent=2))
