"""`get_parameter` through boto3: signoff's SSM door vs moto's server, same machine, one run.

One `signoff server` process (SQLite) with a model live in dev, and one `moto.server` process
holding the same parameter value. The same boto3 client code calls each in turn, in interleaved
rounds, one call at a time (what a pipeline does): calls/s and p50/p99 latency per side. Both
sides pay boto3's own cost per call (serialising, signing, parsing); signoff also verifies the
SigV4 signature, which moto does not. `python bench/aws.py` prints the JSON.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_api import Server, _free_port

MODEL, NAME = "churn", "/signoff/models/churn/dev"


def _moto(port: int, home: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=home)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start in 60 s")


def _client(endpoint: str, key: str, secret: str) -> Any:
    import boto3

    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                 region_name="us-east-1").client("ssm", endpoint_url=endpoint)


def _timed(client: Any, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        client.get_parameter(Name=NAME)
        samples.append(time.perf_counter() - started)
    return samples


def _figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"calls": len(samples), "calls_per_s": round(len(samples) / sum(samples), 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


def run_aws_bench(calls: int = 400, rounds: int = 3) -> dict[str, Any]:
    try:
        import boto3  # noqa: F401
        import moto.server
    except ImportError as exc:
        return {"skipped": f"needs the test extras (boto3, moto[server]): {exc}"}
    with tempfile.TemporaryDirectory(prefix="signoff-bench-aws-") as tmp:
        home = Path(tmp)
        server = Server(home, SIGNOFF_SERVER__SECRET_KEY="bench-secret-key-0123456789abcdef")
        server.cli("register", MODEL, "--artifact", "s3://models/churn/1.pkl", "--digest", "sha256:" + "ab" * 32, "--as", "dana")
        server.cli("approve", MODEL, "1", "--env", "dev", "--as", "rita")
        key = json.loads(server.cli("aws-keys", "create", "--user", "rita", "--scope", "resolve", "--json"))
        server.start()
        moto_port = _free_port()
        moto = _moto(moto_port, home)
        try:
            ours = _client(server.url + "/aws/ssm", key["access_key_id"], key["secret_access_key"])
            theirs = _client(f"http://127.0.0.1:{moto_port}", "testing", "testing")
            value = ours.get_parameter(Name=NAME)["Parameter"]["Value"]
            theirs.put_parameter(Name=NAME, Value=value, Type="String")
            _timed(ours, 50), _timed(theirs, 50)  # warm-up: connections, caches, imports
            samples: dict[str, list[float]] = {"signoff": [], "moto": []}
            for _ in range(rounds):
                samples["signoff"] += _timed(ours, calls)
                samples["moto"] += _timed(theirs, calls)
        finally:
            moto.terminate()
            moto.wait(timeout=20)
            server.stop()
    out: dict[str, Any] = {side: _figures(s) for side, s in samples.items()}
    out["signoff_over_moto_calls_per_s"] = round(out["signoff"]["calls_per_s"] / out["moto"]["calls_per_s"], 2)
    return out


if __name__ == "__main__":
    print(json.dumps(run_aws_bench(), indent=2))
