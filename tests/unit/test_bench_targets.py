"""`make bench`'s `ops_targets` (bench/targets.py summarize) on hand-made run results: every
target judged per database, a figure that is absent reported as missing (never as met), and the
suites those figures come from registered in bench/run.py."""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
TARGETS = ["resolve_rps_c8_over_limit", "resolve_p99_c8_over_limit_p99", "register_rps_over_mlflow",
           "start_to_readyz_s", "rss_mb", "metrics_scrape_p99_ms"]


@pytest.fixture(scope="module")
def targets() -> Any:
    # Loaded from its file under a private name: bench/ is not a package, and its module names
    # (events, databases...) are too common to put on sys.path for the whole session.
    spec = importlib.util.spec_from_file_location("signoff_bench_targets", BENCH / "targets.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wrk(rps: float, p99_ms: float, errors: int = 0) -> dict[str, Any]:
    return {"rps": rps, "p50_ms": p99_ms / 3, "p99_ms": p99_ms, "requests": int(rps * 5), "errors": errors}


def _database(register_rps: float, mlflow_register_rps: float) -> dict[str, Any]:
    return {
        "database": {"kind": "test"},
        "http": {"resolve_c1": _wrk(3000, 0.5), "resolve_c8": _wrk(12000, 1.4),
                 "register_c8": _wrk(register_rps, 40), "start_to_readyz_s": 0.8, "rss_mb": 92.0,
                 "peak_rss_mb": 95.5, "search_versions": {"c1": _wrk(12, 90), "c8": _wrk(15, 600)}},
        "mlflow_peer": {"resolve_c1": _wrk(100, 12), "resolve_c8": _wrk(200, 225),
                        "register_c8": _wrk(mlflow_register_rps, 400), "start_to_ready_s": 9.0, "rss_mb": 950.0,
                        "search_versions": {"c1": _wrk(10, 100), "c8": _wrk(11, 800)},
                        "servers": {"fresh": {"started_as": "mlflow server --workers 1"}}},
        "ops": {"scrape_ms": {"p50": 12.0, "p99": 31.0, "max": 40.0}},
        "signing": {"sign_decision_signature_us": 60.0, "verify_decision_signature_us": 140.0,
                    "sign_attestation_us": 65.0, "verify_attestation_us": 160.0,
                    "verify_attestation_with_1000_revocations_us": 900.0, "approvals_per_s_signing_off": 300.0,
                    "approvals_per_s_signing_on": 280.0, "signing_overhead_pct": 6.7},
    }


def _run() -> dict[str, Any]:
    return {
        "machine": {"cpus": 2},
        "sqlite": _database(register_rps=1400, mlflow_register_rps=100),  # 14x: SQLite wants 10x
        "postgresql": _database(register_rps=700, mlflow_register_rps=100),  # 7x: PostgreSQL wants 5x
        "limit": {"c1": _wrk(9000, 0.2), "c8": _wrk(20000, 0.7), "started_as": "python -m uvicorn limit_app:app"},
        "matcher": {"linear_worst_per_length": {"1000": {"worst_ms": 0.01, "case": "a"},
                                                "1000000": {"worst_ms": 9.5, "case": "b"}},
                    "backtracking_worst_per_length": {"100": {"worst_ms": 1.0, "case": "a"}}},
    }


def test_every_target_is_judged_on_each_database(targets: Any) -> None:
    judged = targets.summarize(_run())
    for kind in ("sqlite", "postgresql"):
        assert list(judged[kind]["targets"]) == TARGETS
        assert judged[kind]["met"] == TARGETS
        assert judged[kind]["not_met"] == [] and judged[kind]["missing"] == {}
    sqlite = judged["sqlite"]["targets"]
    assert sqlite["resolve_rps_c8_over_limit"] == [0.6, ">=", 0.5, True]
    assert sqlite["resolve_p99_c8_over_limit_p99"] == [2.0, "<=", 3, True]
    assert sqlite["register_rps_over_mlflow"] == [14.0, ">=", 10, True]
    assert judged["postgresql"]["targets"]["register_rps_over_mlflow"] == [7.0, ">=", 5, True]
    assert sqlite["start_to_readyz_s"] == [0.8, "<", 1.0, True]
    assert sqlite["rss_mb"] == [95.5, "<", 100, True]
    assert sqlite["metrics_scrape_p99_ms"] == [31.0, "<", 50, True]
    assert judged["sqlite"]["vs_mlflow"]["resolve_rps_c8"] == 60.0
    assert judged["sqlite"]["vs_mlflow"]["search_rps_c1"] == 1.2
    assert json.loads(json.dumps(judged)) == judged  # it goes into the run's JSON as it is


def test_a_target_missed_is_reported_not_met(targets: Any) -> None:
    run = _run()
    run["postgresql"]["http"]["register_c8"]["rps"] = 400  # 4x MLflow: PostgreSQL wants 5x
    run["sqlite"]["http"]["register_c8"]["rps"] = 700  # 7x: enough on PostgreSQL, not on SQLite
    run["sqlite"]["http"]["start_to_readyz_s"] = 1.0  # the target is strictly under a second
    run["sqlite"]["ops"]["scrape_ms"]["p99"] = 158.0
    judged = targets.summarize(run)
    assert judged["postgresql"]["not_met"] == ["register_rps_over_mlflow"]
    assert judged["postgresql"]["targets"]["register_rps_over_mlflow"] == [4.0, ">=", 5, False]
    assert judged["sqlite"]["not_met"] == ["register_rps_over_mlflow", "start_to_readyz_s", "metrics_scrape_p99_ms"]
    assert judged["sqlite"]["targets"]["register_rps_over_mlflow"] == [7.0, ">=", 10, False]


def test_failed_requests_do_not_meet_a_target(targets: Any) -> None:
    run = _run()
    run["sqlite"]["http"]["resolve_c8"]["errors"] = 12  # 401s are fast: a flattering rate
    judged = targets.summarize(run)["sqlite"]
    target = judged["targets"]["resolve_rps_c8_over_limit"]
    assert target[:4] == [0.6, ">=", 0.5, False]
    assert "12 failed requests" in target[4]
    assert "resolve_rps_c8_over_limit" in judged["not_met"]


def test_a_missing_figure_is_reported_missing_never_met(targets: Any) -> None:
    run = _run()
    del run["sqlite"]["mlflow_peer"]  # suite not run
    run["sqlite"]["ops"] = {"error": "OperationalError: disk full"}  # suite failed
    del run["limit"]  # shared suite not run: both resolve targets on both databases
    run["postgresql"] = {"skipped": "PostgreSQL is not installed"}
    del run["matcher"]
    judged = targets.summarize(run)
    sqlite = judged["sqlite"]
    assert sqlite["targets"]["register_rps_over_mlflow"] == [None, ">=", 10, None]
    assert sqlite["targets"]["metrics_scrape_p99_ms"] == [None, "<", 50, None]
    assert sqlite["targets"]["resolve_rps_c8_over_limit"] == [None, ">=", 0.5, None]
    assert sqlite["met"] == ["start_to_readyz_s", "rss_mb"]
    assert sqlite["not_met"] == []
    assert set(sqlite["missing"]) == {"resolve_rps_c8_over_limit", "resolve_p99_c8_over_limit_p99",
                                      "register_rps_over_mlflow", "metrics_scrape_p99_ms"}
    assert "sqlite.mlflow_peer.register_c8.rps" in sqlite["missing"]["register_rps_over_mlflow"]
    assert "disk full" in sqlite["missing"]["metrics_scrape_p99_ms"]
    assert "limit.c8.rps" in sqlite["missing"]["resolve_rps_c8_over_limit"]
    assert sqlite["vs_mlflow"]["register_rps"] is None
    postgres = judged["postgresql"]
    assert postgres["met"] == [] and postgres["not_met"] == []
    assert set(postgres["missing"]) == set(TARGETS)
    assert all("PostgreSQL is not installed" in why for why in postgres["missing"].values())
    assert all(t[3] is None for t in postgres["targets"].values())
    assert "missing" in judged["costs"]["matcher"]
    assert "missing" in judged["costs"]["signing_postgresql"]


def test_mlflow_answering_nothing_is_not_a_ratio(targets: Any) -> None:
    run = _run()
    run["sqlite"]["mlflow_peer"]["register_c8"]["rps"] = 0
    judged = targets.summarize(run)["sqlite"]
    assert judged["targets"]["register_rps_over_mlflow"][3] is None
    assert "is 0" in judged["missing"]["register_rps_over_mlflow"]


def test_a_database_left_out_of_the_run_is_not_judged(targets: Any) -> None:
    run = _run()
    del run["postgresql"]  # SIGNOFF_BENCH_DB=sqlite
    judged = targets.summarize(run)
    assert "postgresql" not in judged and "signing_postgresql" not in judged["costs"]
    assert judged["sqlite"]["met"] == TARGETS


def test_costs_of_matcher_signing_and_attestations_are_carried(targets: Any) -> None:
    run = _run()
    costs = targets.summarize(copy.deepcopy(run))["costs"]
    assert costs["matcher"]["linear_worst_ms"] == {"input_chars": 1_000_000, "worst_ms": 9.5, "case": "b"}
    assert costs["signing_sqlite"] == run["sqlite"]["signing"]
    assert costs["signing_postgresql"]["verify_attestation_us"] == 160.0


def test_run_registers_the_suites_the_targets_read() -> None:
    """bench/run.py's suite lists name, under the keys summarize reads, functions that exist."""
    code = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
import run
db = {key: (module, func) for key, module, func in run.DATABASE_SUITES}
shared = {key: (module, func) for key, module, func in run.SHARED_SUITES}
wanted = {"http": db, "mlflow_peer": db, "ops": db, "signing": db, "limit": shared, "matcher": shared}
found = {}
for key, suites in wanted.items():
    module, func = suites[key]
    found[key] = callable(getattr(importlib.import_module(module), func))
print(json.dumps(found))
"""
    done = subprocess.run([sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True, check=False,
                          cwd=BENCH.parent, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == dict.fromkeys(
        ["http", "mlflow_peer", "ops", "signing", "limit", "matcher"], True)
