"""The HTTP limit on this machine: a bare Starlette app answering constant JSON under uvicorn,
started like `signoff server` (one process, httptools and uvloop when installed, no access log,
no server header), loaded by the same `wrk` as resolve. Ratios against it say how much of the
machine's HTTP capacity signoff's own work takes, whatever the machine's speed.

`python bench/http_limit.py` prints the JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from http_api import _free_port, _wrk
from quick import WRK_SECONDS

BODY = {"name": "churn", "env": "dev", "version": 1, "artifact_uri": "s3://bench/churn-1.pkl"}
APP = f"""
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = {json.dumps(json.dumps(BODY, separators=(",", ":")))}.encode()


async def constant(request):
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/constant", constant)])
"""


def run_limit_bench(seconds: int = WRK_SECONDS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="signoff-bench-limit-") as tmp:
        home = Path(tmp)
        (home / "limit_app.py").write_text(APP)
        port = _free_port()
        cmd = [sys.executable, "-m", "uvicorn", "limit_app:app", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--no-access-log", "--no-server-header"]
        begin = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/constant"
        try:
            with httpx.Client(timeout=1) as http:
                while time.perf_counter() - begin < 60:
                    try:
                        if http.get(url).status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.02)
            started = time.perf_counter() - begin
            _wrk(url, "", 8, 1, 1, home)  # warm-up
            c1 = _wrk(url, "", 1, 1, seconds, home)
            c8 = _wrk(url, "", 8, 2, seconds, home)  # as resolve in http_api.py
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS")))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return {"started_as": " ".join(["python", *cmd[1:]]), "response": f"{len(json.dumps(BODY))} bytes of JSON",
            "c1": c1, "c8": c8, "start_to_ready_s": round(started, 2), "rss_mb": round(rss / 1024, 1)}


if __name__ == "__main__":
    print(json.dumps(run_limit_bench(), indent=2))
