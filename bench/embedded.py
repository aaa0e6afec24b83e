"""Embedded (in-process, SQLite or PostgreSQL) figures: registrations/s, approvals/s, resolves/s, resolve latency."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from databases import Database

from signoff.bootstrap import bootstrap
from signoff.config import Settings
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import queries


def _settings(home: Path, url: str) -> Settings:
    s = Settings(home=home, users={"dana": {"groups": ["ds"]}, "rita": {"groups": ["ml-reviewers"]}})
    s.database_url = url
    return s


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_embedded_bench(database: Database | None = None, registrations: int = 300,
                       resolves: int = 50_000) -> dict[str, Any]:
    database = database or Database("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        ctx = bootstrap(_settings(Path(tmp), database.fresh_url(Path(tmp), "embedded")), migrate_schema=True)
        dana, rita = EmbeddedClient(actor="dana", context=ctx), EmbeddedClient(actor="rita", context=ctx)
        t0 = time.perf_counter()
        for i in range(registrations):
            dana.register(f"m{i % 50}", f"s3://bucket/{i}.pkl", digest="sha256:" + "b" * 64, metrics={"accuracy": 0.9})
        reg_s = time.perf_counter() - t0
        open_ids = [r["id"] for r in rita.requests(state="open", limit=500)][:registrations]
        t0 = time.perf_counter()
        for rid in open_ids:
            rita.decide(rid, "approve")
        appr_s = time.perf_counter() - t0
        reader, wf = ctx.reader, ctx.workflow
        for _ in range(2000):  # warm the pool and statement cache
            queries.resolve(reader=reader, workflow=wf, model="m1", env="dev")
        samples: list[float] = []
        t0 = time.perf_counter()
        for i in range(resolves):
            s = time.perf_counter_ns()
            queries.resolve(reader=reader, workflow=wf, model=f"m{i % 50}", env="dev")
            samples.append((time.perf_counter_ns() - s) / 1000)
        res_s = time.perf_counter() - t0
        ctx.close()
    return {
        "embedded_registrations_per_s": round(registrations / reg_s, 1),
        "embedded_approvals_per_s": round(len(open_ids) / appr_s, 1),
        "embedded_resolves_per_s": round(resolves / res_s, 1),
        "embedded_resolve_p50_us": round(statistics.median(samples), 1),
        "embedded_resolve_p99_us": round(_pct(samples, 0.99), 1),
        "targets": {"embedded_resolves_per_s": ">= 20000", "embedded_resolve_p99_us": "< 1000"},
    }


if __name__ == "__main__":
    print(json.dumps(run_embedded_bench(), indent=2))
