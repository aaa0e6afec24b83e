"""The capacity estimate's registry, measured: 1,000,000 versions over 10,000 models on PostgreSQL.

`make bench-scale` (not part of `make bench`: seeding and `audit verify` take minutes). One
PostgreSQL server started from the Debian binaries as for `make bench` (bench/databases.py; or
SIGNOFF_BENCH_POSTGRES_URL), a database migrated by `signoff db upgrade`, then:

- **bulk seed** (this module's `seed_registry`, the rows `registry.register` writes, as
  bench/seed.py builds them, streamed with COPY in rounds of 10,000 versions): each model's row
  with `latest_version` and its `model.created` audit entry; each version's row, its
  `signoff.version.registered` event (dispatched) and its `version.registered` audit entry,
  sealed onto the hash chain in order so `signoff audit verify` passes; its four
  PendingManualApproval stages are written by one INSERT … SELECT inside PostgreSQL afterwards
  (4 million rows Python need not build). 10,000 models, 100 versions each, except that
  every 20th model gets 99 and its 100th through the real use cases (register, then
  approved in dev: request, decision, stage, live pointer, parameters, promotion, events, audit),
  so there are live pointers to resolve and live filters to page. Then VACUUM ANALYZE.
- a **small** database the same way (100 models, 10,000 versions: SIGNOFF_BENCH_SCALE_SMALL_MODELS)
  on the same server, as the baseline measured in the same run;
- **pages** (in-process, signed in, as bench/ui.py): /models first, deep, searched and filtered
  pages, and the board of a model with 100 versions (first and second page); p50/p99;
- **resolve** (`wrk`, 1 and 8 connections, the per-process resolve cache off so every resolve
  reads the database) and **register** (8 connections, `[events] inline = false`, as
  bench/http_api.py's register_c8) against a real `signoff server` per database, on a model
  with 100 versions in both; large and small take turns for three short rounds of each and the
  best round counts (as bench/scale.py), so a burst of load on a shared machine does not
  decide the ratio;
- **`signoff audit verify`** over the whole chain, wall time through the CLI;
- **size**: pg_database_size and pg_total_relation_size per table, after VACUUM ANALYZE.

JSON on stdout, progress on stderr. SIGNOFF_BENCH_SCALE_MODELS / _VERSIONS shrink it for a
trial run (e.g. 100 × 100).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import Database, open_database
from http_api import Server, _header_script, _wrk
from seed import settle
from sqlalchemy import Engine, func, select, text

from signoff.adapters.db.tables import AuditRow, ModelRow, OutboxRow, VersionRow
from signoff.domain import events
from signoff.domain.audit import GENESIS, AuditEntry, seal
from signoff.domain.models import Lineage, ModelVersion, Stage

MODELS = int(os.environ.get("SIGNOFF_BENCH_SCALE_MODELS", "10000"))
VERSIONS = int(os.environ.get("SIGNOFF_BENCH_SCALE_VERSIONS", "100"))
LIVE_EVERY = 20  # every 20th model has a version live in dev, through the use cases
CHUNK = 10_000  # versions per COPY round
ACTOR = "seed"
SMALL_MODELS = int(os.environ.get("SIGNOFF_BENCH_SCALE_SMALL_MODELS", "100"))  # the baseline, same run
SECONDS, ROUNDS = 3, 3
PAGE_REQUESTS = 40


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _copy(conn: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


_MODEL_COLS = ["id", "name", "description", "owner_group", "tags", "latest_version", "created_at", "created_by"]
_VERSION_COLS = ["id", "model_id", "number", "artifact_uri", "digest", "flavor", "metadata", "metrics", "run_id",
                 "code_commit", "dataset_hash", "registered_by", "registered_at"]
_OUTBOX_COLS = ["id", "event_id", "type", "subject", "time", "payload", "dispatched_at"]
_AUDIT_COLS = ["id", "at", "actor", "action", "subject", "model", "before", "after", "prev_hash", "hash"]


def seed_registry(engine: Engine, names: list[str], versions: dict[str, int], envs: list[str]) -> dict[str, Any]:
    """Models `names` with `versions[name]` versions each, written as the use cases write them
    (see the module docstring); returns row counts and seconds per phase."""
    start = datetime.now(UTC) - timedelta(days=730)
    dumps = json.dumps
    out: dict[str, Any] = {"models": 0, "versions": 0, "audit_entries": 0, "outbox_rows": 0}
    began = time.perf_counter()
    with engine.begin() as conn:
        def top(column: Any) -> int:
            return int(conn.execute(select(func.coalesce(func.max(column), 0))).scalar_one())

        model_id, version_id, event_id, audit_id = top(ModelRow.id), top(VersionRow.id), top(OutboxRow.id), \
            top(AuditRow.id)
        first_version_id = version_id + 1
        prev = conn.execute(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).scalar() or GENESIS
        models: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        outbox: list[tuple[Any, ...]] = []
        audit: list[tuple[Any, ...]] = []
        stages = {e: Stage.PENDING for e in envs}

        def sealed(at: datetime, action: str, subject: str, model: str, after: dict[str, Any]) -> None:
            nonlocal prev, audit_id
            entry = seal(AuditEntry(None, at, ACTOR, action, subject, model, None, after), prev)
            prev, audit_id = entry.hash, audit_id + 1
            audit.append((audit_id, _naive(at), ACTOR, action, subject, model, None, dumps(after),
                          entry.prev_hash, entry.hash))

        def flush() -> None:
            for table, cols, batch in (("models", _MODEL_COLS, models), ("model_versions", _VERSION_COLS, rows),
                                       ("outbox", _OUTBOX_COLS, outbox), ("audit_log", _AUDIT_COLS, audit)):
                _copy(conn, table, cols, batch)
                out["audit_entries" if table == "audit_log" else "outbox_rows" if table == "outbox"
                    else table if table == "models" else "versions"] += len(batch)
                batch.clear()

        for m, name in enumerate(names):
            model_id += 1
            count = versions[name]
            created = start + timedelta(seconds=m)
            models.append((model_id, name, "", None, "{}", count, _naive(created), ACTOR))
            sealed(created, "model.created", f"models/{name}", name, {"name": name, "owner_group": None})
            for number in range(1, count + 1):
                version_id += 1
                at = created + timedelta(milliseconds=number)
                v = ModelVersion(model=name, number=number, artifact_uri=f"s3://bench/{name}/{number}.pkl",
                                 metrics={"accuracy": 0.9}, lineage=Lineage(), registered_by=ACTOR,
                                 registered_at=at, stages=dict(stages))
                rows.append((version_id, model_id, number, v.artifact_uri, None, None, "{}", '{"accuracy": 0.9}',
                             None, None, None, ACTOR, _naive(at)))
                event = events.Event(events.REGISTERED, v.subject, {
                    "model": name, "version": number, "artifact_uri": v.artifact_uri, "digest": None,
                    "flavor": None, "metrics": v.metrics, "registered_by": ACTOR, "owner_group": None,
                    "first_env": envs[0]})
                event_id += 1
                outbox.append((event_id, event.id, event.type, event.subject, _naive(at), dumps(event.envelope(at)),
                               _naive(at)))
                sealed(at, "version.registered", v.subject, name, v.to_dict())
            if len(rows) >= CHUNK:
                flush()
                if out["versions"] % 100_000 < CHUNK:
                    print(f"  {out['versions']:,} versions ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
        flush()
        out["rows_seconds"] = round(time.perf_counter() - began, 1)
        # Four PendingManualApproval stages per version, built by the database.
        staged = time.perf_counter()
        envs_sql = ", ".join(f"('{e}')" for e in envs)
        result = conn.execute(text(
            f"INSERT INTO version_stages (version_id, env, status, updated_at, updated_by) "
            f"SELECT v.id, e.env, '{Stage.PENDING.value}', v.registered_at, '{ACTOR}' "
            f"FROM model_versions v CROSS JOIN (VALUES {envs_sql}) AS e(env) WHERE v.id >= :first"),
            {"first": first_version_id})
        out["stage_rows"] = result.rowcount
        out["stages_seconds"] = round(time.perf_counter() - staged, 1)
        for table in ("models", "model_versions", "outbox", "audit_log"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    out["seconds"] = round(time.perf_counter() - began, 1)
    return out


def _go_live(settings: Any, names: list[str]) -> float:
    """Each of `names` gets one more version through the use cases, approved in dev (its live pointer)."""
    from signoff.bootstrap import bootstrap
    from signoff.sdk._embedded import EmbeddedClient

    began = time.perf_counter()
    ctx = bootstrap(settings, migrate_schema=False)
    try:
        dana, rita = EmbeddedClient(actor="dana", context=ctx), EmbeddedClient(actor="rita", context=ctx)
        for name in names:
            v = dana.register(name, f"s3://bench/{name}/live.pkl", digest="sha256:" + "b" * 64,
                              metrics={"accuracy": 0.95})
            rita.approve(name, v["version"], "dev")
    finally:
        ctx.close()
    return time.perf_counter() - began


def _pages(settings: Any, order: list[str], target: str, models: int, live: int) -> dict[str, Any]:
    """/models and a board, in this process through the real app, signed in (as bench/ui.py)."""
    from fastapi.testclient import TestClient
    from ui import _signed_in

    from signoff.adapters.passwords import hash_password
    from signoff.bootstrap import bootstrap
    from signoff.entrypoints.api import create_app
    from signoff.services import accounts

    ctx = bootstrap(settings, migrate_schema=False)
    try:
        accounts.add_user(uow=ctx.uow(), name="bench", actor="bench", password_hash=hash_password("bench-pass-1"))
        pages = {
            "models_first_page": ("/models", f"of {models} models"),
            "models_page_150": ("/models?page=150", "page 150 of") if models >= 150 * 50 else None,
            "models_search_name": ("/models?q=model-000", "of 100 models"),
            "models_live_in_dev": (f"/models?live={order[0]}", f"of {live} models"),
            "board_first_page": (f"/models/{target}", f"of {VERSIONS} versions"),
            "board_second_page": (f"/models/{target}?page=2", f"of {VERSIONS} versions"),
        }
        out: dict[str, Any] = {}
        with TestClient(create_app(ctx)) as http:
            _signed_in(http)
            for label, page in pages.items():
                if page is None:
                    continue
                path, expect = page
                for _ in range(3):  # warm-up
                    http.get(path)
                samples = []
                for _ in range(PAGE_REQUESTS):
                    t0 = time.perf_counter()
                    response = http.get(path)
                    samples.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200 and expect in response.text, (path, response.status_code)
                samples.sort()
                out[label] = {"path": path, "p50_ms": round(statistics.median(samples), 1),
                              "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1)}
        out["requests_each"] = PAGE_REQUESTS
        return out
    finally:
        ctx.close()


def _sizes(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        total = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        tables = conn.execute(text(
            "SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
            "pg_indexes_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY pg_total_relation_size(c.oid) DESC")).all()
        versions = conn.execute(select(func.count()).select_from(VersionRow)).scalar_one()
    mb = 1024 * 1024
    return {"database_mb": round(total / mb, 1), "versions": versions,
            "bytes_per_version": round(total / versions) if versions else None,
            "tables": {name: {"rows_estimate": rows, "total_mb": round(size / mb, 1), "heap_mb": round(heap / mb, 1),
                              "indexes_mb": round(idx / mb, 1)}
                       for name, rows, size, heap, idx in tables if size >= mb}}


def _prepare(database: Database, home: Path, label: str, models: int) -> dict[str, Any]:
    """A migrated database with `models` x VERSIONS versions (see the module docstring), settled."""
    from signoff.adapters.db.engine import build_engine
    from signoff.bootstrap import workflow_from
    from signoff.config import load_settings

    home.mkdir()
    # As register_c8 in bench/http_api.py: events left to workers; resolve reads the database.
    server = Server(home, database.fresh_url(home, f"million_{label}"), SIGNOFF_SERVER__RESOLVE_CACHE_SECONDS="0",
                    SIGNOFF_EVENTS__INLINE="false", SIGNOFF_SERVER__WORKER="false")
    server.cli("db", "upgrade")
    settings = load_settings(server.config, database_url=server.database_url)
    order = list(workflow_from(settings).order)
    names = [f"model-{i:05d}" for i in range(models)]
    live = [n for i, n in enumerate(names) if i % LIVE_EVERY == 0]
    live_set = set(live)
    # Measured: a model in the middle with 100 versions, live in dev; registrations go to its
    # neighbour (100 versions, nothing live).
    target = live[len(live) // 2]
    state: dict[str, Any] = {"label": label, "server": server, "settings": settings, "order": order, "home": home,
                             "target": target, "neighbour": names[names.index(target) + 1], "models": models,
                             "live": len(live)}
    engine = build_engine(server.database_url)
    state["engine"] = engine
    print(f"bench scale-million ({label}): seeding {models:,} x {VERSIONS} versions ...", file=sys.stderr)
    seeded = seed_registry(engine, names, {n: VERSIONS - (n in live_set) for n in names}, order)
    print(f"  bulk rows in {seeded['seconds']} s; {len(live)} versions through the use cases ...", file=sys.stderr)
    seeded["live_versions_through_use_cases"] = len(live)
    seeded["use_cases_seconds"] = round(_go_live(settings, live), 1)
    began = time.perf_counter()
    settle(engine)
    seeded["vacuum_analyze_seconds"] = round(time.perf_counter() - began, 1)
    state["out"] = {"plan": {"models": models, "versions_each": VERSIONS, "live_in_dev_every": LIVE_EVERY,
                             "resolve_and_board": target, "register": state["neighbour"]},
                    "seeded": seeded, "size": _sizes(engine)}
    return state


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rps": max(r["rps"] for r in runs), "p50_ms": min(r["p50_ms"] for r in runs),
            "p99_ms": min(r["p99_ms"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "rounds": [{k: r[k] for k in ("rps", "p50_ms", "p99_ms")} for r in runs]}


def _http(states: list[dict[str, Any]]) -> None:
    """Resolve (1 and 8 connections) then register (8), the databases taking turns each round."""
    body = json.dumps({"artifact_uri": "s3://bench/m.pkl", "digest": "sha256:" + "c" * 64,
                       "metrics": {"accuracy": 0.9}})
    for s in states:
        s["token"] = s["server"].cli("tokens", "create", "--user", "dana", "--scope", "admin")
        s["out"]["start_to_readyz_s"] = round(s["server"].start(), 2)
        s["resolve_url"] = f"{s['server'].url}/api/v1/models/{s['target']}/environments/{s['order'][0]}"
        s["register_url"] = f"{s['server'].url}/api/v1/models/{s['neighbour']}/versions"
        s["auth"] = _header_script(s["token"])
        s["register"] = _header_script(s["token"], f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                                                   'wrk.headers["Content-Type"] = "application/json"')
        _wrk(s["resolve_url"], s["auth"], 8, 2, 1, s["home"])  # warm-up
        _wrk(s["register_url"], s["register"], 1, 1, 1, s["home"])
        s["runs"] = {"resolve_c1": [], "resolve_c8": [], "register_c8": []}
    for workload, url, script, connections, threads in (("resolve_c1", "resolve_url", "auth", 1, 1),
                                                        ("resolve_c8", "resolve_url", "auth", 8, 2),
                                                        ("register_c8", "register_url", "register", 8, 2)):
        for i in range(ROUNDS):
            for s in states[::1 if i % 2 == 0 else -1]:
                s["runs"][workload].append(_wrk(s[url], s[script], connections, threads, SECONDS, s["home"]))
    for s in states:
        s["server"].stop()
        for workload, runs in s["runs"].items():
            s["out"][workload] = _best(runs)


def _verify(state: dict[str, Any]) -> dict[str, Any]:
    with state["engine"].connect() as conn:
        entries = conn.execute(select(func.count()).select_from(AuditRow)).scalar_one()
    began = time.perf_counter()
    report = state["server"].cli("audit", "verify")
    seconds = time.perf_counter() - began
    return {"entries": entries, "seconds": round(seconds, 1), "entries_per_s": round(entries / seconds),
            "output": report.splitlines()[-1:]}


def run_scale_million(database: Database) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="signoff-bench-million-") as tmp:
        states: list[dict[str, Any]] = []
        try:
            states.append(_prepare(database, Path(tmp) / "large", "large", MODELS))
            states.append(_prepare(database, Path(tmp) / "small", "small", SMALL_MODELS))
            for s in states:
                print(f"  {s['label']}: pages ...", file=sys.stderr)
                s["out"]["pages"] = _pages(s["settings"], s["order"], s["target"], s["models"], s["live"])
            print("  resolve and register, taking turns ...", file=sys.stderr)
            _http(states)
            for s in states:
                print(f"  {s['label']}: signoff audit verify ...", file=sys.stderr)
                s["out"]["audit_verify"] = _verify(s)
                out[s["label"]] = s["out"]
        finally:
            for s in states:
                s["server"].stop()
                s["engine"].dispose()
    large, small = out["large"], out["small"]
    out["large_over_small"] = {
        "resolve_c1_p50": _ratio(large["resolve_c1"]["p50_ms"], small["resolve_c1"]["p50_ms"]),
        "resolve_c8_rps_small_over_large": _ratio(small["resolve_c8"]["rps"], large["resolve_c8"]["rps"]),
        "register_c8_rps_small_over_large": _ratio(small["register_c8"]["rps"], large["register_c8"]["rps"]),
        **{f"page_{k}_p50": _ratio(v["p50_ms"], small["pages"][k]["p50_ms"])
           for k, v in large["pages"].items() if isinstance(v, dict) and k in small["pages"]}}
    out["method"] = {"wrk_seconds": SECONDS, "rounds": ROUNDS, "figure": "best round of each, large and small "
                     "taking turns", "resolve_cache": "off ([server] resolve_cache_seconds = 0)",
                     "events": "[events] inline = false, no worker running (as register_c8)",
                     "pages": f"{PAGE_REQUESTS} requests each after 3 warm-up, in-process ASGI client"}
    return out


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def main() -> None:
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                       "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                                       "load_average_1m_at_start": round(os.getloadavg()[0], 2)}}
    started = time.perf_counter()
    with open_database("postgresql") as database:
        out["database"] = database.describe()
        out["scale_million"] = run_scale_million(database)
    out["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    out["bench_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    from tests.fixtures.postgres import Terminated, stop_on_signals

    stop_on_signals()
    try:
        main()
    except Terminated as exc:
        print(f"bench: {exc}; stopped what it had started", file=sys.stderr)
        sys.exit(128 + exc.signum)
