"""What a decider is shown, labelled by where each number came from, frozen with the decision.

A review page that recomputes its comparison after the fact tells a different story than the
approver saw (once the candidate is live, "what is live now" is the candidate itself). So every
decision stores the snapshot built here, and the request page, the API and the emails render
the stored snapshot of a decided request instead of rebuilding it.

`build_evidence_snapshot` returns plain JSON (str, int, float, bool, None, lists, dicts with
string keys) and nothing time-dependent except `captured_at`, so it can be canonicalised and
hashed to bind a signature to exactly this evidence.
"""

from __future__ import annotations

from typing import Any

from signoff.domain.approvals import ApprovalRequest
from signoff.domain.workflow import Workflow
from signoff.services.ports import UnitOfWork
from signoff.services.records import InferenceReportRecord, ModelRecord, VersionRecord

SNAPSHOT_FORMAT = 1
TRAINING = {"source": "training"}


def report_source(report: InferenceReportRecord) -> dict[str, Any]:
    """The label of metrics taken from an inference report: which environment, how many rows, when."""
    return {"source": "inference", "env": report.env, "report_id": report.id, "rows": report.rows,
            "reported_at": report.reported_at.isoformat(), "reported_by": report.reported_by}


def source_label(source: dict[str, Any] | None) -> str:
    """The same label in words, for pages and mails."""
    if not source or source.get("source") != "inference":
        return "training metrics (as registered)"
    return (f"inference report {source.get('report_id')} in {source.get('env')}: {source.get('rows')} rows, "
            f"reported {str(source.get('reported_at') or '')[:19].replace('T', ' ')}")


def candidate_metrics(uow: UnitOfWork, workflow: Workflow, version_row: VersionRecord,
                      env: str) -> tuple[dict[str, float], dict[str, Any]]:
    """A candidate's metrics for env and their label: its latest report in the previous environment, else training."""
    previous = workflow.previous(env)
    if previous is not None:
        report = uow.reports.latest(version_row.id, previous)
        if report is not None and report.metrics:
            return dict(report.metrics), report_source(report)
    return dict(version_row.metrics or {}), dict(TRAINING)


def live_metrics(uow: UnitOfWork, model: str, env: str) -> tuple[dict[str, float], dict[str, Any]] | None:
    """Metrics of the version live in env now and their label: its latest report there, else training."""
    live = uow.live.row(model, env)
    if live is None:
        return None
    report = uow.reports.latest(live.version_id, env)
    if report is not None and report.metrics:
        return dict(report.metrics), report_source(report)
    return dict(uow.versions.by_id(live.version_id).metrics or {}), dict(TRAINING)


def metric_rows(candidate: dict[str, float], live: dict[str, float] | None) -> list[dict[str, Any]]:
    """One row per metric: the candidate's value, the live version's, and the difference."""
    live = live or {}
    rows = []
    for name in sorted(set(candidate) | set(live)):
        c, lv = candidate.get(name), live.get(name)
        delta = c - lv if c is not None and lv is not None else None
        rows.append({"name": name, "candidate": c, "live": lv, "delta": delta})
    return rows


def _live_side(uow: UnitOfWork, model_row: ModelRecord, env: str, candidate_id: int) -> dict[str, Any] | None:
    live = uow.live.row(model_row.name, env)
    if live is None:
        return None
    metrics = live_metrics(uow, model_row.name, env)
    return {
        "version": live.number, "artifact_uri": live.artifact_uri, "approved_by": list(live.approved_by or []),
        "since": live.since.isoformat(), "is_candidate": live.version_id == candidate_id,
        "metrics": metrics[0] if metrics else {}, "metrics_source": metrics[1] if metrics else None,
        **_facts(uow.versions.by_id(live.version_id)),
    }


LINEAGE_FIELDS = ("run_id", "code_commit", "dataset_hash")


def _facts(row: VersionRecord) -> dict[str, Any]:
    return {"digest": row.digest, "flavor": row.flavor, "lineage": {f: getattr(row, f) for f in LINEAGE_FIELDS},
            "metadata": dict(row.meta or {})}


def changes(candidate: dict[str, Any], live: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Field by field, the candidate against the live version (digest, flavor, lineage, metadata)."""
    if live is None:
        return []
    pairs = [("artifact digest", candidate["digest"], live["digest"]), ("flavor", candidate["flavor"], live["flavor"])]
    pairs += [(f.replace("_", " "), candidate["lineage"].get(f), live["lineage"].get(f)) for f in LINEAGE_FIELDS]
    meta, live_meta = candidate["metadata"], live["metadata"]
    pairs += [(f"metadata.{k}", meta.get(k), live_meta.get(k)) for k in sorted(set(meta) | set(live_meta))]
    return [{"field": f, "candidate": c, "live": lv, "same": c == lv} for f, c, lv in pairs]


def _drift(uow: UnitOfWork, workflow: Workflow, model: str, version_row: VersionRecord,
           source: dict[str, Any]) -> dict[str, Any] | None:
    """Drift of the batch behind the evidence (the report it came from) against the reference profile."""
    if source.get("source") != "inference" or not isinstance(source.get("report_id"), int):
        return None
    from signoff.services.drift_view import drift_in  # assessed once per report and reference

    found = drift_in(uow, workflow, model=model, version=version_row.number, version_id=version_row.id,
                     report_id=source["report_id"])
    if found is None:
        return None
    return {"env": found["env"], "report_id": found["report_id"], "drifted_features": list(found["drifted"]),
            "features_compared": len(found["features"]), "skipped": found["skipped"]}


def build_evidence_snapshot(
    *, uow: UnitOfWork, workflow: Workflow, model_row: ModelRecord, version_row: VersionRecord,
    request: ApprovalRequest,
) -> dict[str, Any]:
    """Everything a decider on `request` is shown now, as plain JSON: what a decision is about."""
    live = _live_side(uow, model_row, request.env, version_row.id)
    compared_with = live if live is not None and not live["is_candidate"] else None
    return {
        "format": SNAPSHOT_FORMAT,
        "captured_at": uow.clock.now().isoformat(),
        "model": model_row.name,
        "version": version_row.number,
        "env": request.env,
        "request_id": request.id,
        "digest": version_row.digest,
        "digest_required": request.policy.require_digest,
        "candidate": {"metrics": dict(request.evidence), "metrics_source": dict(request.evidence_source),
                      **_facts(version_row)},
        "live": live,
        "metrics": metric_rows(request.evidence, compared_with["metrics"] if compared_with else None),
        "changes": changes(_facts(version_row), compared_with),
        "gate_results": list(request.gate_results),
        "drift": _drift(uow, workflow, model_row.name, version_row, request.evidence_source),
        "policy": request.policy.to_dict(),
    }
