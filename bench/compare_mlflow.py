"""`make bench-compare`: the same HTTP workloads against signoff and an MLflow tracking server,
in one run, on SQLite and on PostgreSQL (`SIGNOFF_BENCH_DB`, see bench/databases.py).

MLflow is installed on demand into its own venv under `.bench/` (never into the project's; with
psycopg 3, the driver signoff uses, for PostgreSQL), runs with one worker, and on PostgreSQL uses its own database on the
same server as signoff. The same `wrk` load on both: resolve = get a model version by alias (1
and 8 connections), register = create a model version, search = the newest page of 100 versions
of a model that has 10,000 (MLflow: `model-versions/search` with `name='search'`). The 10,000
versions are bulk-inserted on both sides (signoff: bench/seed.py; MLflow: rows in its
`model_versions` table, as its store writes them). Prints both sets of figures and the ratios.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
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

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "mlflow-venv"
MLFLOW_SPEC = os.environ.get("SIGNOFF_BENCH_MLFLOW", "mlflow>=3,<4")
API = "/api/2.0/mlflow"
SEARCH_VERSIONS = 10_000
GOALS = {"resolve_rps_c8": 30, "register_rps": 7}


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
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS")))
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        todo.extend(int(c) for c in children)
    return round(total / 1024, 1)


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


def run_mlflow_bench(database: Database, seconds: int = 5) -> dict[str, Any]:
    exe = mlflow_bin(postgres=database.server is not None)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        backend = _mlflow_backend(database, home)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = home / "mlflow.log"
        begin = time.perf_counter()
        with open(log, "wb") as sink:
            proc = subprocess.Popen(
                [str(exe), "server", "--backend-store-uri", backend,
                 "--default-artifact-root", str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
                 "--workers", "1"],
                cwd=home, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                while True:
                    if time.perf_counter() - begin > 240:
                        raise RuntimeError("MLflow server did not start in 240 s")
                    if proc.poll() is not None:
                        tail = log.read_text(errors="replace")[-3000:]
                        raise RuntimeError(f"MLflow server exited with {proc.returncode}:\n{tail}")
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.05)
                started = time.perf_counter() - begin
                for name in ("churn", "bench-register", SEARCH_MODEL):
                    http.post(f"{API}/registered-models/create", json={"name": name}).raise_for_status()
                v = http.post(f"{API}/model-versions/create", json={"name": "churn", "source": "s3://bench/churn-1"})
                v.raise_for_status()
                http.post(f"{API}/registered-models/alias",
                          json={"name": "churn", "alias": "dev", "version": v.json()["model_version"]["version"]},
                          ).raise_for_status()
                seeded = _seed_mlflow_versions(backend, SEARCH_VERSIONS)
                query = urllib.parse.urlencode({"filter": f"name='{SEARCH_MODEL}'", "max_results": SEARCH_PAGE})
                search_url = f"{url}{API}/model-versions/search?{query}"
                page = http.get(search_url)
                page.raise_for_status()
                assert len(page.json()["model_versions"]) == SEARCH_PAGE, page.text[:300]
            resolve_url = f"{url}{API}/registered-models/alias?name=churn&alias=dev"
            _wrk(resolve_url, "", 8, 2, 1, home)
            c1 = _wrk(resolve_url, "", 1, 1, seconds, home)
            c8 = _wrk(resolve_url, "", 8, 2, seconds, home)
            body = json.dumps({"name": "bench-register", "source": "s3://bench/m"})
            register = (f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                        'wrk.headers["Content-Type"] = "application/json"')
            reg = _wrk(f"{url}{API}/model-versions/create", register, 8, 2, seconds, home)
            _wrk(search_url, "", 2, 1, 1, home)
            search = {"versions_present": SEARCH_VERSIONS, "page_size": SEARCH_PAGE,
                      "request": f"GET {API}/model-versions/search?{urllib.parse.unquote(query)}", "seeded": seeded,
                      "c1": _wrk(search_url, "", 1, 1, seconds, home), "c8": _wrk(search_url, "", 8, 2, seconds, home)}
            rss = _tree_rss_mb(proc.pid)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
    return {"resolve_c1": c1, "resolve_c8": c8, "register_c8": reg, "search_versions": search,
            "start_to_ready_s": round(started, 2), "start_includes": "creating its schema (first start)",
            "rss_mb": rss}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 1) if b else None


def compare(database: Database) -> dict[str, Any]:
    ours = run_http_bench(database, search_versions=SEARCH_VERSIONS, deferred_events=False)
    print(f"bench-compare {database.kind}: signoff done", file=sys.stderr)
    theirs = run_mlflow_bench(database)
    print(f"bench-compare {database.kind}: mlflow done", file=sys.stderr)
    s_ours, s_theirs = ours["search_versions"], theirs["search_versions"]
    ratios = {
        "resolve_rps_c1": _ratio(ours["resolve_c1"]["rps"], theirs["resolve_c1"]["rps"]),
        "resolve_rps_c8": _ratio(ours["resolve_c8"]["rps"], theirs["resolve_c8"]["rps"]),
        "resolve_p99_c8_mlflow_over_signoff": _ratio(theirs["resolve_c8"]["p99_ms"], ours["resolve_c8"]["p99_ms"]),
        "register_rps": _ratio(ours["register_c8"]["rps"], theirs["register_c8"]["rps"]),
        "search_rps_c1": _ratio(s_ours["c1"]["rps"], s_theirs["c1"]["rps"]),
        "search_rps_c8": _ratio(s_ours["c8"]["rps"], s_theirs["c8"]["rps"]),
        "search_p50_c1_mlflow_over_signoff": _ratio(s_theirs["c1"]["p50_ms"], s_ours["c1"]["p50_ms"]),
        "start_mlflow_over_signoff": _ratio(theirs["start_to_ready_s"], ours["start_to_readyz_s"]),
        "rss_mlflow_over_signoff": _ratio(theirs["rss_mb"], ours["peak_rss_mb"]),
    }
    ours.pop("targets", None)  # `make bench` judges those; here only the ratios count
    return {"database": database.describe(), "signoff": ours, "mlflow": theirs, "ratios": ratios,
            "goals": {k: [ratios[k], ">=", v, (ratios[k] or 0) >= v] for k, v in GOALS.items()}}


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                       "load_average_1m_at_start": round(os.getloadavg()[0], 2)}}
    for kind in selected():
        try:
            with open_database(kind) as database:
                out[kind] = compare(database)
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
