"""`make bench`: every benchmark in one JSON document (compare ratios within one run).

The database suites run once per database: SQLite, then a PostgreSQL server started for the
run (`SIGNOFF_BENCH_DB` = all | sqlite | postgres, `make bench DB=postgres`; see
bench/databases.py), each under its own key: {"sqlite": {...}, "postgresql": {...}}. The
inference suite does not touch the database much and runs once, on SQLite. Arguments name the
suites to run (`python bench/run.py http scale`). JSON on stdout, progress on stderr; a suite
that fails is reported under its key with the error, and the exit status is 1.

`ops_targets` judges the performance targets on the run (bench/targets.py): the `http` suite
(signoff, with a model of 10,000 versions to search) against the `limit` suite (bare Starlette)
and the `mlflow_peer` suite (`mlflow server --workers 1` on the same database, bench/compare_mlflow.py),
and the `ops` suite's /metrics scrape; a target whose suite did not run is listed as missing.
`SIGNOFF_BENCH_QUICK=1` (`make bench QUICK=1`) is a short run for checking the plumbing
(bench/quick.py), e.g. `SIGNOFF_BENCH_QUICK=1 SIGNOFF_BENCH_DB=sqlite python bench/run.py
http mlflow_peer ops signing matcher limit`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import Database, Unavailable, open_database, selected
from quick import QUICK
from targets import summarize
from tests.fixtures.postgres import Terminated, raise_if_terminated, stop_on_signals

DATABASE_SUITES = [
    ("embedded", "embedded", "run_embedded_bench"),
    ("http", "compare_mlflow", "run_signoff_bench"),  # bench/http_api.py, plus the search MLflow is compared on
    ("events", "events", "run_event_bench"),
    ("scale", "scale", "run_scale_bench"),
    ("signing", "signing", "run_signing_bench"),  # signatures, attestations: µs each, approvals/s on vs off
]
DATABASE_SUITES.append(("signin", "people", "run_signin_bench"))  # the sign-in throttle under guessing
DATABASE_SUITES.append(("mlflow", "mlflow_bridge", "run_mlflow_bridge_bench"))  # MLflow bridge latencies
DATABASE_SUITES.append(("ui", "ui", "run_ui_bench"))  # web pages at 10,000 models / 100,000 versions
DATABASE_SUITES.append(("uifind", "ui_find", "run_ui_find_bench"))  # audit search, requests, my submissions
SHARED_SUITES = [("inference", "inference", "run_inference_bench"), ("matcher", "matcher", "run_matcher_bench")]
SHARED_SUITES.append(("aws", "aws", "run_aws_bench"))  # boto3 get_parameter: signoff vs moto server
DATABASE_SUITES.append(("ops", "ops", "run_ops_bench"))  # /metrics at millions of deliveries, prune
SHARED_SUITES.append(("limit", "http_limit", "run_limit_bench"))  # bare Starlette: the HTTP limit
DATABASE_SUITES.append(("mlflow_peer", "compare_mlflow", "run_mlflow_bench"))  # MLflow's server, same workloads


def _run(key: str, module: str, func: str, *args: Database) -> dict[str, Any]:
    started = time.perf_counter()
    label = f"{key} ({args[0].kind})" if args else key
    print(f"bench {label} ...", file=sys.stderr)
    try:
        result: dict[str, Any] = getattr(importlib.import_module(module), func)(*args)
    except Exception as exc:  # noqa: BLE001 - one broken suite must not lose the others' figures
        raise_if_terminated()
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    print(f"bench {label} done in {result['bench_seconds']} s", file=sys.stderr)
    return result


def main() -> None:
    only = set(sys.argv[1:])
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                       "load_average_1m_at_start": round(os.getloadavg()[0], 2),
                                       "quick": QUICK}}
    suites = [s for s in DATABASE_SUITES if not only or s[0] in only]
    for kind in selected() if suites else []:
        try:
            with open_database(kind) as database:
                out[kind] = {"database": database.describe()}
                for key, module, func in suites:
                    out[kind][key] = _run(key, module, func, database)
        except Unavailable as exc:
            out[kind] = {"skipped": str(exc)}
    for key, module, func in SHARED_SUITES:
        if not only or key in only:
            out[key] = _run(key, module, func)
    out["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    out["ops_targets"] = summarize(out)
    print(json.dumps(out, indent=2))
    failed = [k for k, v in out.items() if isinstance(v, dict) and ("error" in v or any(
        isinstance(s, dict) and "error" in s for s in v.values()))]
    if failed:
        sys.exit(f"bench: suites failed in {', '.join(failed)} (see above)")


if __name__ == "__main__":
    stop_on_signals()  # a killed `make bench` still stops its PostgreSQL server and signoff processes
    try:
        main()
    except Terminated as exc:
        print(f"bench: {exc}; stopped what it had started", file=sys.stderr)
        sys.exit(128 + exc.signum)
