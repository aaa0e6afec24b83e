"""Operations figures: what a `/metrics` scrape costs with millions of delivery rows, and how
fast `signoff prune` removes them.

A fresh database is bulk-seeded inside the database itself (generate_series on PostgreSQL, a
recursive CTE on SQLite) with `SIGNOFF_BENCH_OPS_ROWS` deliveries (default 3,000,000: over three
target types), one attempt per delivery and one
outbox event per three deliveries; 0.5 % are dead letters and 0.05 % pending. A tenth of the
events and their deliveries are 121 days old (past every retention default), the rest a day. Then, in this process, the
collectors `/metrics` registers are scraped (prometheus_client's generate_latest):

- `scrape_uncached_ms`: with `[server] metrics_cache_seconds = 0`, every scrape reads all
  figures (what every scrape cost before the cache; the scan of both tables);
- `scrape_first_ms`: the first scrape with the cache on (it fills the cache);
- `scrape_ms`: p50/p99/max of scrapes every 0.1 s for three cache lifetimes, background
  refreshes of the totals running during some of them — the figure the target (< 50 ms) is
  about; `live_part_ms` is what each scrape reads (index-only), `totals_refresh_ms` one
  background refresh;
- `prune`: `signoff prune`'s service with the default policy (and batch size): the old tenth
  goes, from tables holding the rest; rows/s.

`python bench/ops.py` prints the JSON (SIGNOFF_BENCH_DB picks the database, as in bench/run.py).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import text

from databases import Database
from quick import pick
from seed import settle
from signoff.bootstrap import bootstrap, retention_policy
from signoff.config import Settings
from signoff.entrypoints.api.routes.deliveries import DeliveryCollector
from signoff.entrypoints.api.routes.health import RegistryCollector
from signoff.services import retention

ROWS = int(os.environ.get("SIGNOFF_BENCH_OPS_ROWS", pick("3000000", "100000")))
CHUNK = 500_000
CACHE_S = 5.0  # shorter than the default 15 s so the run sees several background refreshes
TARGET_SCRAPE_MS = 50

_OUTBOX = """INSERT INTO outbox (id, event_id, type, subject, time, payload, dispatched_at)
SELECT i, 'ev-' || i, 'signoff.version.registered', 'models/bench/versions/' || i, {ts}, '{{}}',
  CASE WHEN (i - 1) % 10 = 0 THEN {old} ELSE {ts} END FROM {series}"""
_DELIVERIES = """INSERT INTO deliveries (id, idempotency_key, event_seq, event_id, event_type, event_time, rule_name,
  target_index, target_type, target, state, attempts, replays, next_attempt_at, created_at, updated_at, finished_at)
SELECT i, 'key-' || i, ((i - 1) / 3) + 1, 'ev-' || (((i - 1) / 3) + 1), 'signoff.version.registered', {ts}, 'rule',
  0, CASE i % 3 WHEN 0 THEN 'email' WHEN 1 THEN 'webhook' ELSE 'request_approval' END,
  '{{"type": "webhook", "url": "https://hooks.example.com/signoff"}}',
  CASE WHEN i % 200 = 1 THEN 'dead' WHEN i % 2000 = 2 THEN 'pending' ELSE 'succeeded' END, 1, 0,
  CASE WHEN ((i - 1) / 3) % 10 = 0 THEN {old} ELSE {ts} END, {ts}, {ts},
  CASE WHEN i % 2000 = 2 THEN NULL WHEN ((i - 1) / 3) % 10 = 0 THEN {old} ELSE {ts} END
FROM {series}"""
_ATTEMPTS = """INSERT INTO delivery_attempts (id, delivery_id, number, worker, started_at, duration_ms, outcome,
  status_code, error)
SELECT i, i, 1, 'bench', {ts}, 1.5, CASE WHEN i % 200 = 1 THEN 'final' ELSE 'ok' END, 200, NULL FROM {series}"""


def _series(dialect: str, first: int, last: int) -> tuple[str, str, str]:
    """(row source, 'recent' timestamp, 'old' timestamp: past every retention default)."""
    recent = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    old = recent - timedelta(days=120)  # minus up to 3,000,000 ms: still past 90 days
    # Times differ row by row (i ms apart), as real ones do: with a handful of distinct values
    # SQLite's planner judges the timestamp indexes useless and the figures mean nothing.
    if dialect == "postgresql":
        def pg(at: datetime) -> str:
            return f"(TIMESTAMP '{at:%Y-%m-%d %H:%M:%S}' + i * INTERVAL '1 millisecond')"

        return f"generate_series({first}, {last}) AS s(i)", pg(recent), pg(old)

    def lite(at: datetime) -> str:  # SQLAlchemy's text form, microseconds included
        return f"strftime('%Y-%m-%d %H:%M:%f', '{at:%Y-%m-%d %H:%M:%S}', '+' || (i / 1000.0) || ' seconds') || '000'"

    return (f"(WITH RECURSIVE s(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM s WHERE i < {last}) "
            "SELECT i FROM s)", lite(recent), lite(old - timedelta(days=1)))


def seed_deliveries(engine: Any, rows: int) -> float:
    """`rows` finished deliveries, their attempts and their events, inserted by the database; seconds."""
    started = time.perf_counter()
    events = (rows + 2) // 3
    for sql, total in ((_OUTBOX, events), (_DELIVERIES, rows), (_ATTEMPTS, rows)):
        for first in range(1, total + 1, CHUNK):
            series, ts, old = _series(engine.dialect.name, first, min(total, first + CHUNK - 1))
            with engine.begin() as conn:
                conn.execute(text(sql.format(series=series, ts=ts, old=old)))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("outbox", "deliveries", "delivery_attempts"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    settle(engine)
    return time.perf_counter() - started


def _read(ctx: Any, figures: str) -> Any:
    """One of the delivery repository's reads, as the collector makes it (its own read transaction)."""
    with ctx.read_uow() as uow:
        return getattr(uow.deliveries, figures)()


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _scrape(registry: CollectorRegistry) -> tuple[float, str]:
    started = time.perf_counter()
    body = generate_latest(registry).decode()
    return (time.perf_counter() - started) * 1000, body


def run_ops_bench(database: Database, rows: int = ROWS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="signoff-bench-ops-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, database_url=database.fresh_url(home, "ops"))
        ctx = bootstrap(settings, migrate_schema=True)
        try:
            print(f"  seeding {rows:,} deliveries and attempts ...", file=sys.stderr)
            seed_s = seed_deliveries(ctx.engine, rows)
            out: dict[str, Any] = {"rows": {"deliveries": rows, "delivery_attempts": rows,
                                            "outbox": (rows + 2) // 3}, "seed_s": round(seed_s, 1)}
            uncached = CollectorRegistry()
            uncached.register(RegistryCollector(ctx.engine))
            uncached.register(DeliveryCollector(ctx, cache_seconds=0))
            out["scrape_uncached_ms"] = [round(_scrape(uncached)[0], 1) for _ in range(3)]
            live = DeliveryCollector(ctx)
            # What one scrape reads from the database (the counts kept by triggers on PostgreSQL;
            # the indexed part plus the cached totals elsewhere).
            reader = DeliveryCollector(ctx, cache_seconds=3600)
            reader._figures()  # fills the totals' cache where there is one
            out["scrape_read_ms"] = [round(_timed(reader._figures), 1) for _ in range(5)]
            out["live_part_ms"] = [round(_timed(lambda: _read(ctx, "live_stats")), 1) for _ in range(5)]
            out["totals_refresh_ms"] = [round(_timed(live._read_totals), 1) for _ in range(3)]
            cached = CollectorRegistry()
            cached.register(RegistryCollector(ctx.engine))
            cached.register(DeliveryCollector(ctx, cache_seconds=CACHE_S))
            first, body = _scrape(cached)
            ok = next(line for line in body.splitlines() if line.startswith('signoff_delivery_attempts_total{outcome="ok"}'))
            assert float(ok.split()[-1]) == rows - rows // 200, ok
            # Scrapes for a few cache lifetimes, so background refreshes run during some of them.
            times = []
            until = time.perf_counter() + 3 * CACHE_S
            while time.perf_counter() < until:
                times.append(_scrape(cached)[0])
                time.sleep(0.1)
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            out["scrape_first_ms"] = round(first, 1)
            out["scrape_ms"] = {"p50": round(statistics.median(times), 2), "p99": round(p99, 2),
                                "max": round(times[-1], 2), "scrapes": len(times),
                                "metrics_cache_seconds": CACHE_S, "every_s": 0.1}
            out["targets"] = {"scrape_p99_ms": [round(p99, 2), "<", TARGET_SCRAPE_MS, p99 < TARGET_SCRAPE_MS]}
            started = time.perf_counter()
            report = retention.prune(uow_factory=ctx.uow_without_dispatch, clock=ctx.clock, policy=retention_policy(settings))
            prune_s = time.perf_counter() - started
            gone = sum(report.deleted.values())
            out["prune"] = {"deleted": report.deleted, "seconds": round(prune_s, 1),
                            "rows_per_s": round(gone / prune_s) if prune_s else None,
                            "batch_size": settings.retention.batch_size}
            return out
        finally:
            ctx.close()


if __name__ == "__main__":
    from databases import open_database, selected

    result: dict[str, Any] = {}
    for kind in selected():
        with open_database(kind) as db:
            result[kind] = run_ops_bench(db)
    print(json.dumps(result, indent=2))

