"""`make bench-compare`: the same HTTP workloads against signoff and an MLflow tracking server,
in one run, on SQLite and on PostgreSQL (`SIGNOFF_BENCH_DB`, see bench/databases.py).

MLflow is installed on demand into its own venv under `.bench/` (never into the project's; with
psycopg 3, the driver signoff uses, for PostgreSQL) and started as a user starts it, `mlflow server
--workers 1` with its defaults (job execution on), on PostgreSQL with its own database on the same
server as signoff; the JSON says how each server was started. The same `wrk` load on both:
resolve = get a model version by alias (1 and 8 connections) and register = create a model
version, against a fresh MLflow server holding only those two models; search = the newest page
of 100 versions of a model that has 10,000 (MLflow: `model-versions/search` with
`name='search'`), against a second MLflow server seeded with them (signoff: bench/seed.py;
MLflow: rows in its `model_versions` table, as its store writes them). MLflow is loaded only once
its process tree has settled (see MlflowServer). The bare-Starlette limit (bench/http_limit.py)
is measured in the same run. Prints every set of figures, the ratios and the targets judged
(bench/targets.py).

`make bench` runs the same two halves as suites of its own (`http`: run_signoff_bench, and
`mlflow_peer`: run_mlflow_bench), so its JSON carries these figures too; SIGNOFF_BENCH_QUICK=1
shortens both (bench/quick.py: 2 s loads, 1,000 seeded versions, a shorter settling window).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import Database, Unavailable, open_database, selected
from http_api import SEARCH_MODEL, SEARCH_PAGE, _free_port, _wrk, run_http_bench
from http_limit import run_limit_bench
from quick import QUICK, WRK_SECONDS, pick
from targets import judge, ratios

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "mlflow-venv"
MLFLOW_SPEC = os.environ.get("SIGNOFF_BENCH_MLFLOW", "mlflow>=3,<4")
API = "/api/2.0/mlflow"
SEARCH_VERSIONS = pick(10_000, 1_000)
SETTLE_WINDOW_S = pick(3.0, 1.5)  # see _settle


def _venv_pip(*args: str) -> None:
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *args], check=True)


def mlflow_bin(postgres: bool = False) -> Path:
    exe = VENV / "bin" / "mlflow"
    if not exe.exists():
        print(f"installing {MLFLOW_SPEC} into {VENV} (once)", file=sys.stderr)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        _venv_pip("--upgrade", "pip")
        _venv_pip(MLFLOW_SPEC)
    if postgres and subprocess.run([str(VENV / "bin" / "python"), "-c", "import psycopg"], check=False,
                                   capture_output=True).returncode != 0:
        print(f"installing psycopg into {VENV} (once, for MLflow on PostgreSQL)", file=sys.stderr)
        _venv_pip("psycopg[binary]")
    return exe


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (MLflow runs its workers as children)."""
    total = 0
    for p in _tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS")))
        except (OSError, StopIteration):
            continue
    return round(total / 1024, 1)


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants. Children are listed per thread (/proc/P/task/T/children), and
    MLflow's job runner starts its consumers from threads, so every thread is read."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        out.append(p)
        for task in tasks:
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return out


def _seed_mlflow_versions(backend: str, count: int) -> dict[str, Any]:
    """Versions 1..count of registered model SEARCH_MODEL, straight into MLflow's tables: the rows
    its store's create_model_version writes (it numbers the next one max(version) + 1)."""
    now = int(time.time() * 1000)
    columns = ("name", "version", "creation_time", "last_updated_time", "description", "user_id",
               "current_stage", "source", "storage_location", "run_id", "run_link", "status", "status_message")
    rows = [(SEARCH_MODEL, v, now - count + v, now - count + v, "", None, "None", f"s3://bench/search/{v}",
             f"s3://bench/search/{v}", None, None, "READY", None) for v in range(1, count + 1)]
    if backend.startswith("sqlite:///"):
        with sqlite3.connect(backend.removeprefix("sqlite:///"), timeout=30) as conn:
            conn.executemany(f"INSERT INTO model_versions ({', '.join(columns)}) VALUES "
                             f"({', '.join('?' for _ in columns)})", rows)
            conn.execute("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", (now, SEARCH_MODEL))
            conn.execute("ANALYZE")
    else:
        import psycopg

        dsn = urllib.parse.urlsplit(backend)._replace(scheme="postgresql").geturl()
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            with cur.copy(f"COPY model_versions ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute("UPDATE registered_models SET last_updated_time = %s WHERE name = %s", (now, SEARCH_MODEL))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")  # as signoff's database gets (bench/seed.py settle)
    return {"how": "direct INSERT (SQLite) / COPY (PostgreSQL) into MLflow's model_versions table, then ANALYZE",
            "versions": count}


def _mlflow_backend(database: Database, home: Path) -> str:
    if database.server is None:
        return f"sqlite:///{home / 'mlflow.db'}"
    return database.fresh_url(home, "mlflow")  # postgresql+psycopg://: the same driver as signoff


class MlflowServer:
    """`mlflow server --workers 1` as a user starts it: its defaults, job execution included.

    MLflow 3's server answers /health before it is done starting: its job runner then spawns
    huey consumer processes (7 with the defaults), each importing all of MLflow. On a 2-core
    machine they take the CPU from the server for tens of seconds — the reason this bench once
    measured MLflow at a seventh of its speed. So the load starts once the process tree has
    settled (its CPU time stops growing), as it would have on a server that has been up a while;
    both times are reported.
    """

    def __init__(self, exe: Path, backend: str, home: Path) -> None:
        self.home, self.port = home, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [str(exe), "server", "--backend-store-uri", backend, "--default-artifact-root",
                     str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        self.log = home / "mlflow.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def started_as(self) -> str:
        shown = ["mlflow", *self.argv[1:]]
        shown[shown.index("--backend-store-uri") + 1] = _redact(shown[shown.index("--backend-store-uri") + 1])
        return " ".join(shown)

    def start(self) -> dict[str, Any]:
        """Start; returns seconds to the first 200 from /health and to a settled process tree."""
        begin = time.perf_counter()
        with open(self.log, "wb") as sink:
            self.proc = subprocess.Popen(self.argv, cwd=self.home, stdout=sink, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while True:
                if time.perf_counter() - begin > 240:
                    raise RuntimeError("MLflow server did not start in 240 s")
                if self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"MLflow server exited with {self.proc.returncode}:\n{tail}")
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
        ready = time.perf_counter() - begin
        _settle(self.proc.pid)
        return {"start_to_ready_s": round(ready, 2), "start_to_settled_s": round(time.perf_counter() - begin, 2),
                "processes": len(_tree(self.proc.pid))}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # its job runner can outlast a loaded machine's patience
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        return parts._replace(netloc=f"{parts.username}:***@{parts.hostname}:{parts.port}").geturl()
    return url


def _tree_cpu_s(pid: int) -> float:
    ticks = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _settle(pid: int, window: float = SETTLE_WINDOW_S, quiet_windows: int = 3, idle_share: float = 0.05,
            limit: float = 400.0) -> None:
    """Wait until the process tree, with the same processes throughout, used under `idle_share`
    of one core in each of `quiet_windows` consecutive windows of `window` seconds."""
    began = time.perf_counter()
    before, members, quiet = _tree_cpu_s(pid), set(_tree(pid)), 0
    while time.perf_counter() - began < limit:
        time.sleep(window)
        now, current = _tree_cpu_s(pid), set(_tree(pid))
        quiet = quiet + 1 if now - before < idle_share * window and current == members else 0
        if quiet >= quiet_windows:
            return
        before, members = now, current
    raise RuntimeError(f"MLflow's processes still busy after {limit:.0f} s")


def _server_rss_mb(pid: int) -> float:
    """The uvicorn process that answers the requests (the tree's member serving the port)."""
    for p in _tree(pid):
        try:
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"uvicorn" in b" ".join(cmdline):
            status = Path(f"/proc/{p}/status").read_text()
            return round(int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS"))) / 1024, 1)
    return _tree_rss_mb(pid)


def run_mlflow_bench(database: Database, seconds: int = WRK_SECONDS) -> dict[str, Any]:
    """Resolve and register against a fresh MLflow with only what they need; search against a
    second one seeded with SEARCH_VERSIONS versions; each started as a user starts it."""
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    exe = mlflow_bin(postgres=database.server is not None)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "fresh"
        home.mkdir()
        fresh = MlflowServer(exe, _mlflow_backend(database, home), home)
        started = fresh.start()
        try:
            url = fresh.url
            with httpx.Client(base_url=url, timeout=30) as http:
                for name in ("churn", "bench-register"):
                    http.post(f"{API}/registered-models/create", json={"name": name}).raise_for_status()
                v = http.post(f"{API}/model-versions/create", json={"name": "churn", "source": "s3://bench/churn-1"})
                v.raise_for_status()
                http.post(f"{API}/registered-models/alias",
                          json={"name": "churn", "alias": "dev", "version": v.json()["model_version"]["version"]},
                          ).raise_for_status()
            resolve_url = f"{url}{API}/registered-models/alias?name=churn&alias=dev"
            _wrk(resolve_url, "", 8, 2, 1, home)
            c1 = _wrk(resolve_url, "", 1, 1, seconds, home)
            c8 = _wrk(resolve_url, "", 8, 2, seconds, home)
            body = json.dumps({"name": "bench-register", "source": "s3://bench/m"})
            register = (f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                        'wrk.headers["Content-Type"] = "application/json"')
            reg = _wrk(f"{url}{API}/model-versions/create", register, 8, 2, seconds, home)
            rss, rss_server = _tree_rss_mb(fresh.proc.pid), _server_rss_mb(fresh.proc.pid)  # type: ignore[union-attr]
        finally:
            fresh.stop()
        home = Path(tmp) / "seeded"
        home.mkdir()
        backend = _mlflow_backend(database, home)
        seeded_server = MlflowServer(exe, backend, home)
        seeded_start = seeded_server.start()
        try:
            with httpx.Client(base_url=seeded_server.url, timeout=30) as http:
                http.post(f"{API}/registered-models/create", json={"name": SEARCH_MODEL}).raise_for_status()
                seeded = _seed_mlflow_versions(backend, SEARCH_VERSIONS)
                query = urllib.parse.urlencode({"filter": f"name='{SEARCH_MODEL}'", "max_results": SEARCH_PAGE})
                search_url = f"{seeded_server.url}{API}/model-versions/search?{query}"
                page = http.get(search_url)
                page.raise_for_status()
                assert len(page.json()["model_versions"]) == SEARCH_PAGE, page.text[:300]
            _wrk(search_url, "", 2, 1, 1, home)
            search = {"versions_present": SEARCH_VERSIONS, "page_size": SEARCH_PAGE,
                      "request": f"GET {API}/model-versions/search?{urllib.parse.unquote(query)}", "seeded": seeded,
                      "c1": _wrk(search_url, "", 1, 1, seconds, home), "c8": _wrk(search_url, "", 8, 2, seconds, home)}
        finally:
            seeded_server.stop()
    return {"resolve_c1": c1, "resolve_c8": c8, "register_c8": reg, "search_versions": search,
            **started, "start_includes": "creating its schema (first start)", "rss_mb": rss,
            "rss_server_process_mb": rss_server,
            "servers": {
                "fresh": {"started_as": fresh.started_as, "used_for": ["resolve_c1", "resolve_c8", "register_c8"],
                          "holds": "the two models the workloads use", **started},
                "seeded": {"started_as": seeded_server.started_as, "used_for": ["search_versions"],
                           "holds": f"{SEARCH_VERSIONS:,} versions of {SEARCH_MODEL!r}", **seeded_start}},
            "measured_after": f"the process tree settled (under 5 % of a core for 3 windows of {SETTLE_WINDOW_S} s): "
                              "MLflow's job runner and its huey consumers finished starting; start_to_ready_s is "
                              "the first 200 from /health, start_to_settled_s that moment",
            "version": subprocess.run([str(exe), "--version"], check=False, capture_output=True, text=True).stdout.strip(),
            "rss_includes": "the whole process tree (server, job runner, huey consumers) after the load; "
                            "rss_server_process_mb the uvicorn process alone"}


def run_signoff_bench(database: Database, deferred_events: bool = True) -> dict[str, Any]:
    """signoff's side: bench/http_api.py with a page of SEARCH_PAGE of SEARCH_VERSIONS versions to
    search, and how its servers were started. `deferred_events` adds the registration backlog and
    inline-dispatch figures (`make bench`; bench-compare leaves them out)."""
    ours = run_http_bench(database, search_versions=SEARCH_VERSIONS, deferred_events=deferred_events)
    if "skipped" in ours:
        return ours
    ours["started_as"] = ("signoff server --port N, SIGNOFF_DATABASE_URL set; resolve and search on a server with "
                          "inline dispatch (the default), register_c8 on one with [events] inline = false "
                          "(bench/http_api.py register_by_workers)")
    ours["holds"] = (f"the workloads' models and {SEARCH_VERSIONS:,} versions of {SEARCH_MODEL!r} on the resolve "
                     "server (resolve does not slow with size: bench/scale.py)")
    return ours


def compare(database: Database, limit: dict[str, Any]) -> dict[str, Any]:
    ours = run_signoff_bench(database, deferred_events=False)
    print(f"bench-compare {database.kind}: signoff done", file=sys.stderr)
    theirs = run_mlflow_bench(database)
    print(f"bench-compare {database.kind}: mlflow done", file=sys.stderr)
    ours.pop("targets", None)  # bench/http_api.py's absolute ones; here only the ratios count
    judged = judge({"limit": limit, database.kind: {"signoff": ours, "mlflow": theirs}}, database.kind,
                   http="signoff", peer="mlflow")
    # The /metrics scrape is the ops suite's (`make bench`), not measured here.
    goals = {name: t for name, t in judged["targets"].items() if name != "metrics_scrape_p99_ms"}
    return {"database": database.describe(), "signoff": ours, "mlflow": theirs,
            "ratios": ratios(ours, theirs, limit), "goals": goals,
            "goals_not_met": [n for n in judged["not_met"] if n in goals],
            "goals_missing": {n: why for n, why in judged["missing"].items() if n in goals}}


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                       "load_average_1m_at_start": round(os.getloadavg()[0], 2), "quick": QUICK}}
    out["limit"] = run_limit_bench()
    print("bench-compare: bare Starlette limit done", file=sys.stderr)
    for kind in selected():
        try:
            with open_database(kind) as database:
                out[kind] = compare(database, out["limit"])
        except Unavailable as exc:
            out[kind] = {"skipped": str(exc)}
    out["ratios"] = {kind: out[kind].get("ratios") for kind in selected()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    from tests.fixtures.postgres import Terminated, stop_on_signals

    stop_on_signals()  # killed, it still stops the servers and PostgreSQL it started
    try:
        main()
    except Terminated as exc:
        sys.exit(128 + exc.signum)
