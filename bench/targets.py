"""The performance targets, judged on one run's JSON (`ops_targets` in `make bench`, `goals` in
`make bench-compare`): ratios within the run, so a slower or busier machine moves both sides.

Per database:

- `resolve_rps_c8_over_limit` >= 0.5: signoff's resolve at 8 connections against the bare-Starlette
  endpoint (bench/http_limit.py) loaded by the same wrk;
- `resolve_p99_c8_over_limit_p99` <= 3: its p99 against the limit's;
- `register_rps_over_mlflow` >= 10 on SQLite, >= 5 on PostgreSQL: register at 8 connections
  against `mlflow server --workers 1` on the same database (bench/compare_mlflow.py);
- `start_to_readyz_s` < 1.0 and `rss_mb` (peak) < 100: one API process;
- `metrics_scrape_p99_ms` < 50: `/metrics` at millions of delivery rows (bench/ops.py).

A target whose figures are absent (suite not run, skipped or failed) is judged `null` and listed
under `missing` with the figure it lacks — never as met. A wrk figure with errors (non-2xx or
socket errors) on signoff's side does not meet its target either: failed requests are fast.
The matcher, signing and attestation costs are carried alongside (`costs`): they have no
threshold of their own.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

RESOLVE_OVER_LIMIT = 0.5
P99_OVER_LIMIT = 3
REGISTER_OVER_MLFLOW = {"sqlite": 10, "postgresql": 5}
START_TO_READYZ_S = 1.0
RSS_MB = 100
SCRAPE_P99_MS = 50
KINDS = ("sqlite", "postgresql")
# The figures these targets were set against (measured before the work on them), for the note
# that closes them: before / after, side by side.
BEFORE = {
    "resolve_rps_c8_over_limit": "0.23 (SQLite: 4,864 vs 20,913 req/s)",
    "resolve_p99_c8_over_limit_p99": "7.6 (5.3 ms vs 0.7 ms)",
    "register_rps_over_mlflow": "SQLite 5.9x (819 vs 138 req/s); PostgreSQL ~1.5-2x (180 vs ~120 req/s)",
    "start_to_readyz_s": "0.87 s",
    "rss_mb": "107 MB",
    "metrics_scrape_p99_ms": "1,800-3,000 ms at 3,000,000 delivery rows",
}
_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "<": operator.lt}


def _at(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _why_absent(out: dict[str, Any], path: tuple[str, ...]) -> str:
    """`path`, and why it is absent when a suite on the way says so (skipped, error)."""
    node: Any = out
    for key in path:
        if isinstance(node, dict):
            for reason in ("skipped", "error"):
                if isinstance(node.get(reason), str):
                    return f"{'.'.join(path)} ({reason}: {node[reason]})"
            node = node.get(key)
    return f"{'.'.join(path)} (not in this run)"


def _ratio(a: Any, b: Any, places: int = 1) -> float | None:
    a, b = _number(a), _number(b)
    return round(a / b, places) if a is not None and b else None


def _floor(p99_ms: Any) -> float | None:
    """A p99 to divide by: wrk reports whole microseconds, so a bare endpoint can show 0.00 ms."""
    value = _number(p99_ms)
    return None if value is None else max(value, 0.01)


def ratios(ours: dict[str, Any], theirs: dict[str, Any], limit: dict[str, Any]) -> dict[str, float | None]:
    """signoff's HTTP figures against MLflow's and against the HTTP limit (None where one is absent)."""
    def f(d: dict[str, Any], *path: str) -> Any:
        return _at(d, path)

    return {
        "resolve_rps_c1": _ratio(f(ours, "resolve_c1", "rps"), f(theirs, "resolve_c1", "rps")),
        "resolve_rps_c8": _ratio(f(ours, "resolve_c8", "rps"), f(theirs, "resolve_c8", "rps")),
        "resolve_p99_c8_mlflow_over_signoff": _ratio(f(theirs, "resolve_c8", "p99_ms"), f(ours, "resolve_c8", "p99_ms")),
        "register_rps": _ratio(f(ours, "register_c8", "rps"), f(theirs, "register_c8", "rps")),
        "search_rps_c1": _ratio(f(ours, "search_versions", "c1", "rps"), f(theirs, "search_versions", "c1", "rps")),
        "search_rps_c8": _ratio(f(ours, "search_versions", "c8", "rps"), f(theirs, "search_versions", "c8", "rps")),
        "search_p50_c1_mlflow_over_signoff": _ratio(f(theirs, "search_versions", "c1", "p50_ms"),
                                                    f(ours, "search_versions", "c1", "p50_ms")),
        "start_mlflow_over_signoff": _ratio(f(theirs, "start_to_ready_s"), f(ours, "start_to_readyz_s")),
        "rss_mlflow_over_signoff": _ratio(f(theirs, "rss_mb"), f(ours, "peak_rss_mb")),
        # Against the HTTP limit measured in the same run (bench/http_limit.py).
        "resolve_rps_c8_over_limit": _ratio(f(ours, "resolve_c8", "rps"), f(limit, "c8", "rps"), 2),
        "resolve_p99_c8_over_limit": _ratio(f(ours, "resolve_c8", "p99_ms"), _floor(f(limit, "c8", "p99_ms"))),
        "mlflow_resolve_rps_c8_over_limit": _ratio(f(theirs, "resolve_c8", "rps"), f(limit, "c8", "rps"), 3),
    }


def judge(out: dict[str, Any], kind: str, *, http: str = "http", peer: str = "mlflow_peer") -> dict[str, Any]:
    """Every target for database `kind` of a run's JSON: signoff's HTTP figures at out[kind][http],
    MLflow's at out[kind][peer], the limit at out["limit"], the scrape at out[kind]["ops"]."""
    targets: dict[str, list[Any]] = {}
    missing: dict[str, str] = {}

    def target(name: str, op: str, threshold: float, paths: list[tuple[str, ...]],
               value: Callable[..., float], errors_from: tuple[str, ...] | None = None) -> None:
        figures = [_number(_at(out, p)) for p in paths]
        absent = [_why_absent(out, p) for p, fig in zip(paths, figures, strict=True) if fig is None]
        if not absent and paths[-1][-1] == "rps" and figures[-1] == 0:
            absent = [f"{'.'.join(paths[-1])} is 0: nothing to compare with"]
        if absent:
            targets[name] = [None, op, threshold, None]
            missing[name] = "; ".join(absent)
            return
        measured = value(*figures)
        met = _OPS[op](measured, threshold)
        errors = _number(_at(out, (*errors_from, "errors"))) if errors_from else None
        targets[name] = [measured, op, threshold, met and not errors]
        if errors:
            targets[name].append(f"{errors:.0f} failed requests in {'.'.join(errors_from or ())}")

    k = kind
    target("resolve_rps_c8_over_limit", ">=", RESOLVE_OVER_LIMIT,
           [(k, http, "resolve_c8", "rps"), ("limit", "c8", "rps")], lambda a, b: round(a / b, 2),
           (k, http, "resolve_c8"))
    target("resolve_p99_c8_over_limit_p99", "<=", P99_OVER_LIMIT,
           [(k, http, "resolve_c8", "p99_ms"), ("limit", "c8", "p99_ms")], lambda a, b: round(a / max(b, 0.01), 1),
           (k, http, "resolve_c8"))
    target("register_rps_over_mlflow", ">=", REGISTER_OVER_MLFLOW[kind],
           [(k, http, "register_c8", "rps"), (k, peer, "register_c8", "rps")], lambda a, b: round(a / b, 1),
           (k, http, "register_c8"))
    target("start_to_readyz_s", "<", START_TO_READYZ_S, [(k, http, "start_to_readyz_s")], lambda a: a)
    target("rss_mb", "<", RSS_MB, [(k, http, "peak_rss_mb")], lambda a: a)
    target("metrics_scrape_p99_ms", "<", SCRAPE_P99_MS, [(k, "ops", "scrape_ms", "p99")], lambda a: a)
    return {"targets": targets,
            "met": [n for n, t in targets.items() if t[3] is True],
            "not_met": [n for n, t in targets.items() if t[3] is False],
            "missing": missing}


def _costs(out: dict[str, Any]) -> dict[str, Any]:
    """The matcher's, signing's and attestations' costs, as their suites measured them."""
    costs: dict[str, Any] = {}
    matcher = out.get("matcher")
    if isinstance(matcher, dict) and "linear_worst_per_length" in matcher:
        linear = matcher["linear_worst_per_length"]
        longest = max(linear, key=int)
        costs["matcher"] = {"linear_worst_ms": {"input_chars": int(longest), **linear[longest]},
                            "backtracking_worst_per_length": matcher.get("backtracking_worst_per_length")}
    else:
        costs["matcher"] = {"missing": _why_absent(out, ("matcher", "linear_worst_per_length"))}
    keys = ("sign_decision_signature_us", "verify_decision_signature_us", "sign_attestation_us",
            "verify_attestation_us", "verify_attestation_with_1000_revocations_us",
            "approvals_per_s_signing_off", "approvals_per_s_signing_on", "signing_overhead_pct")
    for kind in KINDS:
        if kind not in out:
            continue
        signing = _at(out, (kind, "signing"))
        if isinstance(signing, dict) and all(key in signing for key in keys):
            costs[f"signing_{kind}"] = {key: signing[key] for key in keys}
        else:
            costs[f"signing_{kind}"] = {"missing": _why_absent(out, (kind, "signing", "sign_attestation_us"))}
    return costs


def summarize(out: dict[str, Any]) -> dict[str, Any]:
    """`ops_targets` of a `make bench` run: every target judged for each database the run covered,
    signoff against MLflow, and the costs of the matcher, signatures and attestations."""
    judged: dict[str, Any] = {}
    for kind in KINDS:
        if kind not in out:
            continue  # not selected for this run (SIGNOFF_BENCH_DB)
        judged[kind] = judge(out, kind)
        ours, theirs = _at(out, (kind, "http")), _at(out, (kind, "mlflow_peer"))
        judged[kind]["vs_mlflow"] = ratios(ours if isinstance(ours, dict) else {},
                                           theirs if isinstance(theirs, dict) else {},
                                           out.get("limit") if isinstance(out.get("limit"), dict) else {})
    judged["costs"] = _costs(out)
    judged["before"] = BEFORE
    return judged
