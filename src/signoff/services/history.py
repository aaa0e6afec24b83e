"""What a model went through, for pictures: live timelines, metric trends, two versions compared.

Everything here only reads, and returns plain JSON-able values (datetimes stay datetimes) that
the web pages draw as charts and print as tables. Each read is bounded (the latest moves, the
newest versions), so a model with thousands of versions costs what one page shows.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeGuard

from signoff.domain.workflow import Workflow
from signoff.services.ports import UnitOfWork

MOVES_SHOWN = 300  # live-pointer moves drawn on a model page (every environment together)
TREND_VERSIONS = 50  # newest versions whose metrics a model page plots
TREND_METRICS = 12  # charts per model page; the rest are in the table


def live_timeline(*, uow: UnitOfWork, workflow: Workflow, model: str, now: datetime) -> dict[str, Any]:
    """Per environment, which version was live when, from the live-pointer history; raises NotFound.

    Each environment's `segments` run from one move to the next (the last one to `now`); a
    segment's `kind` says how its version got there: approval, auto_approve, rollback,
    break_glass or revoke (a revoke that leaves nothing live is a segment with version None).
    """
    with uow:
        model_row = uow.models.row(model)
        moves = uow.history.moves(model_row.id, limit=MOVES_SHOWN)
    lanes: dict[str, list[Any]] = {env: [] for env in workflow.order}
    for move in moves:
        lanes.setdefault(move.env, []).append(move)
    envs = []
    for env, env_moves in lanes.items():
        segments = []
        for i, move in enumerate(env_moves):
            end = env_moves[i + 1].at if i + 1 < len(env_moves) else None
            segments.append({"version": move.version, "previous": move.previous, "kind": move.kind,
                             "actor": move.actor, "reason": move.reason, "request_id": move.request_id,
                             "start": move.at, "end": end})
        envs.append({"env": env, "segments": segments})
    start = moves[0].at if moves else now
    return {"envs": envs, "start": start, "end": max(now, moves[-1].at) if moves else now,
            "moves": len(moves), "truncated": len(moves) >= MOVES_SHOWN}


def metric_trends(*, uow: UnitOfWork, workflow: Workflow, model: str, limit: int = TREND_VERSIONS) -> dict[str, Any]:
    """Each metric across the newest versions: training values, and each environment's latest
    inference report per version (labelled apart), with the version live in each environment;
    raises NotFound."""
    with uow:
        model_row = uow.models.row(model)
        versions = uow.history.recent_versions(model_row.id, limit=limit)
        reports = uow.history.latest_reports([v.id for v in versions])
        live = uow.models.live_numbers([model_row.id]).get(model_row.id, {})
    number_of = {v.id: v.number for v in versions}
    inference: dict[str, dict[str, dict[int, float]]] = {}  # metric -> env -> version -> value
    for report in reports:
        for name, value in (report.metrics or {}).items():
            if _is_number(value):
                inference.setdefault(name, {}).setdefault(report.env, {})[number_of[report.version_id]] = value
    training: dict[str, dict[int, float]] = {}
    for v in versions:
        for name, value in v.metrics.items():
            if _is_number(value):
                training.setdefault(name, {})[v.number] = value
    names = sorted(set(training) | set(inference))
    env_rank = {env: i for i, env in enumerate(workflow.order)}
    metrics = [{
        "name": name,
        "training": training.get(name, {}),
        "inference": dict(sorted(inference.get(name, {}).items(), key=lambda kv: env_rank.get(kv[0], 99))),
    } for name in names]
    return {"versions": [v.number for v in versions], "metrics": metrics,
            "live": {env: live[env] for env in workflow.order if env in live},
            "report_envs": [env for env in workflow.order if any(env in m["inference"] for m in metrics)],
            "shown": TREND_METRICS, "limit": limit}


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare_versions(*, uow: UnitOfWork, workflow: Workflow, model: str, a: int, b: int) -> dict[str, Any]:
    """Two versions side by side: metrics (training and each environment's latest report), stages,
    lineage, digest and metadata, each row marked same or changed; raises NotFound."""
    with uow:
        model_row = uow.models.row(model)
        rows = {n: uow.versions.row(model_row, n) for n in (a, b)}
        entities = {n: uow.versions.to_entity(model_row, row, workflow) for n, row in rows.items()}
        by_id = {row.id: n for n, row in rows.items()}
        reports = uow.history.latest_reports(list(by_id))
    sources: list[tuple[str, dict[int, dict[str, Any]]]] = [
        ("training", {n: dict(e.metrics) for n, e in entities.items()})]
    for env in workflow.order:
        found = {by_id[r.version_id]: r for r in reports if r.env == env}
        if found:
            sources.append((f"inference in {env}", {n: dict(r.metrics) for n, r in found.items()}))
    metrics = []
    for label, values in sources:
        names = sorted(set(values.get(a, {})) | set(values.get(b, {})))
        for name in names:
            va, vb = values.get(a, {}).get(name), values.get(b, {}).get(name)
            delta = vb - va if _is_number(va) and _is_number(vb) else None
            metrics.append({"source": label, "name": name, "a": va, "b": vb, "delta": delta})
    ea, eb = entities[a], entities[b]
    facts = [("artifact", ea.artifact_uri, eb.artifact_uri), ("artifact digest", ea.digest, eb.digest),
             ("flavor", ea.flavor, eb.flavor), ("run id", ea.lineage.run_id, eb.lineage.run_id),
             ("code commit", ea.lineage.code_commit, eb.lineage.code_commit),
             ("dataset", ea.lineage.dataset_hash, eb.lineage.dataset_hash),
             ("registered by", ea.registered_by, eb.registered_by)]
    meta_a, meta_b = _flat(ea.metadata), _flat(eb.metadata)
    facts += [(f"metadata.{k}", meta_a.get(k), meta_b.get(k)) for k in sorted(set(meta_a) | set(meta_b))]
    da, db = ea.to_dict(), eb.to_dict()
    return {
        "model": model, "a": da, "b": db,
        "metrics": metrics,
        "facts": [{"field": f, "a": va, "b": vb, "same": va == vb} for f, va, vb in facts],
        "stages": [{"env": env, "a": da["board"].get(env), "b": db["board"].get(env),
                    "a_live": env in ea.live_in, "b_live": env in eb.live_in} for env in workflow.order],
    }


def _flat(meta: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested metadata as dotted keys with printable values (lists and odd values as JSON)."""
    out: dict[str, str] = {}
    for key, value in meta.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return out
