"""Scale figures: does a big registry slow resolve and register down, and do workers add up?

Two databases side by side: *small* holds 100 versions (one model), *large* 100,000 (1,000
models of 100 versions). The versions are bulk-inserted as `registry.register` would have
written them (bench/seed.py: rows, stages, outbox, audit chain); then one more version of the
measured model is registered and approved in dev through the real use cases, so resolve has a
live version, and the database is VACUUM ANALYZEd (PostgreSQL) or checkpointed (SQLite).
Both get a real `signoff server`; `wrk` measures resolve latency (1 connection, p50/p99; the
per-process resolve cache is off, so every resolve reads the database) and register
throughput (8 connections) against the measured model, which has 100 versions in both
databases, so only the size of everything else differs. `resolve_db_read_us` is resolve's
database read alone (LiveReader.get in this process), the least noisy figure. Small and large
take turns for a few short rounds (resolve rounds first, then register rounds) and the best
round of each counts, so a burst of load on the shared machine does not decide the ratio.
Target: large within 1.5x of small.

Deliveries/s with 1, 2 and 4 `signoff worker` processes: a backlog of events is committed
while the (already started, idle) workers poll, and the rate runs from the first to the last
arrival at a loopback webhook receiver (bench/events.py). `python bench/scale.py` prints the
JSON (SIGNOFF_BENCH_DB picks the database, as in bench/run.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from databases import Database
from events import Receiver, _publish, _settings, stop_worker
from http_api import Server, _header_script, _wrk
from quick import pick
from seed import seed_versions, settle

from signoff.adapters.db.engine import build_engine
from signoff.adapters.db.live_reader import LiveReader
from signoff.bootstrap import bootstrap, workflow_from
from signoff.config import load_settings
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import rules

SMALL = (1, 100)  # models, versions each
LARGE = pick((1_000, 100), (100, 100))
ROUNDS, SECONDS = pick(3, 1), pick(3, 2)
WORKERS, BACKLOG = (1, 2, 4), 2_000
FLAT = 1.5


def _prepare(database: Database, home: Path, label: str, models: int, versions: int) -> dict[str, Any]:
    """A database with models x versions (bulk, the measured model one short, then one through the use
    cases and approved in dev), tokens, and a started server."""
    home.mkdir()
    # Resolve reads the database every time: the per-process cache (PostgreSQL) would hide its size.
    server = Server(home, database.fresh_url(home, f"scale_{label}"), SIGNOFF_SERVER__RESOLVE_CACHE_SECONDS="0",
                    SIGNOFF_EVENTS__INLINE="false", SIGNOFF_SERVER__WORKER="false")  # as register_c8 (http_api.py)
    server.cli("db", "upgrade")
    names = [f"scale-{i:04d}" for i in range(models)]
    target = names[len(names) // 2]
    settings = load_settings(server.config, database_url=server.database_url)
    began = time.perf_counter()
    engine = build_engine(server.database_url)
    try:
        order = workflow_from(settings).order
        seeded = seed_versions(engine, models=[n for n in names if n != target], versions=versions, envs=order)
        seeded_target = seed_versions(engine, models=[target], versions=versions - 1, envs=order)
        ctx = bootstrap(settings, migrate_schema=False)
        try:
            v = EmbeddedClient(actor="dana", context=ctx).register(target, f"s3://bench/{target}/live.pkl",
                                                                    digest="sha256:" + "b" * 64, metrics={"accuracy": 0.95})
            EmbeddedClient(actor="rita", context=ctx).approve(target, v["version"], "dev")
        finally:
            ctx.close()
        settle(engine)
    finally:
        engine.dispose()
    seed_s = time.perf_counter() - began
    token = server.cli("tokens", "create", "--user", "dana", "--scope", "admin")
    server.start()
    return {"server": server, "token": token, "reader": LiveReader(build_engine(server.database_url)), "target": target, "label": label, "models": models,
            "versions_present": seeded["versions"] + seeded_target["versions"] + 1,
            "seeded": {**{k: seeded[k] + seeded_target[k] for k in seeded}, "seconds": round(seed_s, 1)}}


def _reads(state: dict[str, Any], count: int = 2_000) -> dict[str, float]:
    """The database read behind resolve, in this process (LiveReader.get): no HTTP, less noise."""
    reader = state["reader"]
    samples = []
    for _ in range(count):
        began = time.perf_counter_ns()
        reader.get(state["target"], "dev")
        samples.append((time.perf_counter_ns() - began) / 1000)
    samples.sort()
    return {"p50_us": round(samples[count // 2], 1), "p99_us": round(samples[int(count * 0.99)], 1)}


def _best(runs: list[dict[str, float]]) -> dict[str, Any]:
    return {"rps": max(r["rps"] for r in runs), "p50_ms": min(r["p50_ms"] for r in runs),
            "p99_ms": min(r["p99_ms"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "rounds": [{k: r[k] for k in ("rps", "p50_ms", "p99_ms")} for r in runs]}


def _size_effect(database: Database, home: Path) -> dict[str, Any]:
    states: list[dict[str, Any]] = []
    try:
        states.append(_prepare(database, home / "small", "small", *SMALL))
        states.append(_prepare(database, home / "large", "large", *LARGE))
        print("bench scale: seeded, measuring", file=sys.stderr)
        body = json.dumps({"artifact_uri": "s3://bench/m.pkl", "metrics": {"accuracy": 0.9}})
        resolve: dict[str, list[dict[str, float]]] = {s["label"]: [] for s in states}
        register: dict[str, list[dict[str, float]]] = {s["label"]: [] for s in states}
        reads: dict[str, list[dict[str, float]]] = {s["label"]: [] for s in states}
        reg_script = {s["label"]: _header_script(s["token"], f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                                                 'wrk.headers["Content-Type"] = "application/json"') for s in states}
        for s in states:  # warm-up: connections, compiled statements, the first registration
            _wrk(f"{s['server'].url}/api/v1/models/{s['target']}/environments/dev", _header_script(s["token"]),
                 1, 1, 1, home)
            _wrk(f"{s['server'].url}/api/v1/models/{s['target']}/versions", reg_script[s["label"]], 1, 1, 1, home)
        # Resolve first (registering changes the databases), small and large taking turns to go first.
        for i in range(ROUNDS):
            for s in states[::1 if i % 2 == 0 else -1]:
                resolve[s["label"]].append(_wrk(f"{s['server'].url}/api/v1/models/{s['target']}/environments/dev",
                                                _header_script(s["token"]), 1, 1, SECONDS, home))
                reads[s["label"]].append(_reads(s))
        for i in range(ROUNDS):
            for s in states[::1 if i % 2 == 0 else -1]:
                register[s["label"]].append(_wrk(f"{s['server'].url}/api/v1/models/{s['target']}/versions",
                                                 reg_script[s["label"]], 8, 2, SECONDS, home))
    finally:
        for s in states:
            s["server"].stop()
            s["reader"].close()
            s["reader"].engine.dispose()
    out: dict[str, Any] = {}
    for s in states:
        out[s["label"]] = {"versions_present": s["versions_present"], "models": s["models"], "seeded": s["seeded"],
                           "resolve_c1": _best(resolve[s["label"]]), "register_c8": _best(register[s["label"]]),
                           "resolve_db_read_us": {k: min(r[k] for r in reads[s["label"]]) for k in ("p50_us", "p99_us")}}
    small, large = out["small"], out["large"]
    ratios = {
        "resolve_p50_large_over_small": _ratio(large["resolve_c1"]["p50_ms"], small["resolve_c1"]["p50_ms"]),
        "resolve_p99_large_over_small": _ratio(large["resolve_c1"]["p99_ms"], small["resolve_c1"]["p99_ms"]),
        "register_rps_small_over_large": _ratio(small["register_c8"]["rps"], large["register_c8"]["rps"]),
        "db_read_p50_large_over_small": _ratio(large["resolve_db_read_us"]["p50_us"],
                                               small["resolve_db_read_us"]["p50_us"]),
    }
    out["ratios"] = ratios
    out["targets"] = {k: [v, "<=", FLAT, v is not None and v <= FLAT] for k, v in ratios.items()}
    return out


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def _start_workers(home: Path, url: str, count: int, stack: ExitStack) -> list[subprocess.Popen[bytes]]:
    """`count` worker processes, returned once each has printed its start-up line (it is polling)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env.update(SIGNOFF_DATABASE_URL=url, SIGNOFF_HOME=str(home), SIGNOFF_EVENTS__INLINE="false")
    procs = []
    for _ in range(count):
        proc = subprocess.Popen([sys.executable, "-m", "signoff.entrypoints.cli", "worker"], env=env, cwd=home,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        stack.callback(stop_worker, proc)
        procs.append(proc)
    for proc in procs:
        assert proc.stdout is not None
        if not proc.stdout.readline():
            raise RuntimeError(f"signoff worker exited with {proc.wait()}")
    return procs


def _deliveries(database: Database, home: Path) -> dict[str, Any]:
    home.mkdir()
    receiver = Receiver()
    url = database.fresh_url(home, "scale_workers")
    ctx = bootstrap(_settings(home, url), migrate_schema=True)
    out: dict[str, Any] = {"backlog_events": BACKLOG}
    try:
        rules.add_rule(uow=ctx.uow(), actor="bench", python_targets=(), spec={
            "name": "bench-hook", "pattern": {"type": ["bench.ping"]},
            "targets": [{"type": "webhook", "url": receiver.url, "secret": "bench-secret"}]})
        for count in WORKERS:
            with ExitStack() as stack:
                _start_workers(home, url, count, stack)
                before = receiver.count
                ids, committed = _publish(ctx, BACKLOG)
                receiver.wait_for(set(ids), timeout=600)
            times = sorted(receiver.arrivals[i] for i in ids)
            span = times[-1] - times[0]
            out[f"workers_{count}"] = {
                "deliveries_per_s": round((BACKLOG - 1) / span) if span > 0 else None,
                "seconds_first_to_last": round(span, 2), "seconds_commit_to_last": round(times[-1] - committed, 2),
                "duplicates": receiver.count - before - BACKLOG}
        base = out["workers_1"]["deliveries_per_s"]
        out["speedup_over_1_worker"] = {f"workers_{c}": _ratio(out[f"workers_{c}"]["deliveries_per_s"], base)
                                        for c in WORKERS[1:]}
    finally:
        ctx.close()
        receiver.stop()
    return out


def run_scale_bench(database: Database | None = None) -> dict[str, Any]:
    database = database or Database("sqlite")
    with tempfile.TemporaryDirectory(prefix="signoff-scale-bench-") as tmp:
        home = Path(tmp)
        out = _size_effect(database, home)
        print("bench scale: sizes done, workers next", file=sys.stderr)
        out["deliveries"] = _deliveries(database, home / "workers")
    out["method"] = {"rounds": ROUNDS, "seconds_per_run": SECONDS, "figure": "best round of each",
                     "resolve_cache": "off ([server] resolve_cache_seconds = 0): every resolve reads the database"}
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    from databases import open_database, selected

    with open_database(selected()[0]) as db:
        print(json.dumps(run_scale_bench(db), indent=2))
