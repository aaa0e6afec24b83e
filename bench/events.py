"""Event-bus figures: commit → webhook delivery latency with an idle worker, and deliveries/s
through one worker to a loopback receiver (targets: p50 < 100 ms, p99 < 500 ms, ≥ 500/s).

Everything is real: a temporary SQLite file or PostgreSQL database, `signoff worker` processes (and a worker thread
in the benchmark's own process, which commits wake at once), an HTTP receiver on loopback
that answers 200 with keep-alive. Latency is measured from the moment the committing unit of
work returns to the moment the receiver has the request, one event at a time with a random
pause between events so they do not line up with the worker's poll. `python bench/events.py`
prints the JSON.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from databases import Database
from quick import pick

from signoff.bootstrap import Context, bootstrap
from signoff.config import Settings
from signoff.domain.events import Event
from signoff.entrypoints.worker import Worker
from signoff.services import rules

LATENCY_EVENTS = 200
THROUGHPUT_EVENTS = pick(3000, 500)


class Receiver:
    """The smallest honest webhook receiver: reads the body, answers 200, notes when."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.count = 0
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                event_id = json.loads(body)["id"]
                with receiver.cond:
                    receiver.arrivals.setdefault(event_id, now)
                    receiver.count += 1
                    receiver.cond.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, event_ids: set[str], timeout: float = 60) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: event_ids <= self.arrivals.keys(), timeout=timeout):
                raise TimeoutError(f"{len(event_ids - self.arrivals.keys())} events never arrived")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _settings(home: Path, url: str) -> Settings:
    settings = Settings(home=home, events={"inline": False})
    settings.database_url = url
    return settings


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _publish(ctx: Context, count: int = 1) -> tuple[list[str], float]:
    """Commit `count` events in one transaction; returns their ids and when the commit returned."""
    made = [Event("bench.ping", f"bench/{i}", {"i": i}) for i in range(count)]
    uow = ctx.uow()
    with uow:
        for e in made:
            uow.emit(e)
        uow.commit()
        committed = time.perf_counter()
    return [e.id for e in made], committed


def _latency(ctx: Context, receiver: Receiver, n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        time.sleep(random.uniform(0.005, 0.06))  # idle worker, arbitrary phase against its poll
        [event_id], committed = _publish(ctx)
        receiver.wait_for({event_id}, timeout=10)
        samples.append((receiver.arrivals[event_id] - committed) * 1000)
    return {"events": n, "p50_ms": round(_percentile(samples, 0.5), 1), "p99_ms": round(_percentile(samples, 0.99), 1),
            "max_ms": round(max(samples), 1)}


@contextmanager
def _worker_process(home: Path, url: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env.update(SIGNOFF_DATABASE_URL=url, SIGNOFF_HOME=str(home),
               SIGNOFF_EVENTS__INLINE="false")
    proc = subprocess.Popen([sys.executable, "-m", "signoff.entrypoints.cli", "worker", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=home)
    try:
        yield proc
    finally:
        stop_worker(proc)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a worker finishes what it holds), then SIGKILL if it takes over 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process (Linux), to state a load-independent cost per delivery."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _throughput(ctx: Context, home: Path, receiver: Receiver, n: int, concurrency: int) -> dict[str, Any]:
    """A backlog of n events, then one worker process; rate between the first and the last arrival."""
    ids, _ = _publish(ctx, n)
    before = receiver.count
    with _worker_process(home, ctx.settings.resolved_database_url(), "--concurrency", str(concurrency)) as proc:
        with receiver.cond:
            receiver.cond.wait_for(lambda: receiver.count > before, timeout=120)
        cpu_start = _cpu_seconds(proc.pid)
        receiver.wait_for(set(ids), timeout=600)
        cpu_end = _cpu_seconds(proc.pid)
    times = sorted(receiver.arrivals[i] for i in ids)
    span = times[-1] - times[0]
    out: dict[str, Any] = {"events": n, "concurrency": concurrency, "seconds": round(span, 2),
                           "deliveries_per_s": round((n - 1) / span) if span > 0 else float("inf"),
                           "duplicates": receiver.count - before - n}
    if cpu_start is not None and cpu_end is not None:
        # What one delivery costs the worker in CPU: 1000 / this is the rate one free core allows.
        out["worker_cpu_ms_per_delivery"] = round((cpu_end - cpu_start) * 1000 / (n - 1), 3)
    return out


def run_event_bench(database: Database | None = None) -> dict[str, Any]:
    database = database or Database("sqlite")
    with tempfile.TemporaryDirectory(prefix="signoff-events-bench-") as tmp:
        home = Path(tmp)
        receiver = Receiver()
        url = database.fresh_url(home, "events")
        ctx = bootstrap(_settings(home, url), migrate_schema=True)
        try:
            rules.add_rule(uow=ctx.uow(), actor="bench", python_targets=(), spec={
                "name": "bench-hook", "pattern": {"type": ["bench.ping"]},
                "targets": [{"type": "webhook", "url": receiver.url, "secret": "bench-secret"}]})
            out: dict[str, Any] = {"targets": {"p50_ms": 100, "p99_ms": 500, "deliveries_per_s": 500}}
            worker = Worker(ctx).start()  # in-process: commits wake it (Context.listeners)
            try:
                _latency(ctx, receiver, 10)  # warm-up: connections, compiled rules
                out["latency_thread_worker_notified"] = _latency(ctx, receiver, LATENCY_EVENTS)
            finally:
                worker.stop()
            with _worker_process(home, url):
                _latency(ctx, receiver, 10)
                out["latency_process_worker_polling"] = _latency(ctx, receiver, LATENCY_EVENTS)
            out["throughput_one_worker"] = _throughput(ctx, home, receiver, THROUGHPUT_EVENTS, 1)
            out["throughput_one_worker_4_threads"] = _throughput(ctx, home, receiver, THROUGHPUT_EVENTS, 4)
            out["poll_interval_s"] = ctx.settings.events.poll_interval
            out["load_average_1m"] = round(os.getloadavg()[0], 2)
            out["cpus"] = os.cpu_count()
            return out
        finally:
            ctx.close()
            receiver.stop()


if __name__ == "__main__":
    print(json.dumps(run_event_bench(), indent=2))
