"""`make bench-compare`: the HTTP workloads against signoff and an MLflow tracking server, same run.

MLflow is installed on demand into its own venv under `.bench/` (never into the project's), runs
with a SQLite backend and one worker, and gets the same `wrk` load: resolve = get a model version
by alias, register = create a model version. Prints both sets of figures and the ratios.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_api import _free_port, _wrk, run_http_bench  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench" / "mlflow-venv"
MLFLOW_SPEC = os.environ.get("SIGNOFF_BENCH_MLFLOW", "mlflow>=3,<4")
API = "/api/2.0/mlflow"


def mlflow_bin() -> Path:
    exe = VENV / "bin" / "mlflow"
    if not exe.exists():
        print(f"installing {MLFLOW_SPEC} into {VENV} (once)", file=sys.stderr)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", MLFLOW_SPEC], check=True)
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


def run_mlflow_bench(seconds: int = 5) -> dict[str, Any]:
    exe = mlflow_bin()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        begin = time.perf_counter()
        proc = subprocess.Popen(
            [str(exe), "server", "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
             "--default-artifact-root", str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            with httpx.Client(base_url=url, timeout=5) as http:
                while True:
                    if time.perf_counter() - begin > 180:
                        raise RuntimeError("MLflow server did not start in 180 s")
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.05)
                started = time.perf_counter() - begin
                http.post(f"{API}/registered-models/create", json={"name": "churn"}).raise_for_status()
                http.post(f"{API}/registered-models/create", json={"name": "bench-register"}).raise_for_status()
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
            rss = _tree_rss_mb(proc.pid)
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
    return {"resolve_c1": c1, "resolve_c8": c8, "register_c8": reg, "start_to_ready_s": round(started, 2),
            "rss_mb": rss}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 1) if b else None


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    ours = run_http_bench()
    theirs = run_mlflow_bench()
    ratios = {
        "resolve_rps_c8": _ratio(ours["resolve_c8"]["rps"], theirs["resolve_c8"]["rps"]),
        "resolve_p99_c8_mlflow_over_signoff": _ratio(theirs["resolve_c8"]["p99_ms"], ours["resolve_c8"]["p99_ms"]),
        "register_rps": _ratio(ours["register_c8"]["rps"], theirs["register_c8"]["rps"]),
        "start_mlflow_over_signoff": _ratio(theirs["start_to_ready_s"], ours["start_to_readyz_s"]),
        "rss_mlflow_over_signoff": _ratio(theirs["rss_mb"], ours["peak_rss_mb"]),
    }
    goals = {"resolve_rps_c8": 30, "register_rps": 7}
    print(json.dumps({
        "signoff": ours, "mlflow": theirs, "ratios": ratios,
        "goals": {k: [ratios[k], ">=", v, (ratios[k] or 0) >= v] for k, v in goals.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
