"""Drift of one inference batch, feature by feature, with the distributions behind it.

The review page and the promotion email show what `drift.assess` decided for the batch the
evidence came from: each feature's PSI and KS p-value beside their thresholds, and for the
features that drifted, the reference distribution against the batch's on the reference's own
bins (a unit change shows as every value piling into the top bin). Read-only; the assessment
is recomputed from the stored report and reference profile exactly as it was at report time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from signoff.domain.workflow import Workflow
from signoff.services.ports import UnitOfWork

DISTRIBUTIONS_SHOWN = 12  # drifted features whose distributions are drawn
TOP_CATEGORIES = 12
# A report never changes and a reference profile changes only by being set again (a new
# created_at), so an assessment keyed on both is computed once: parsing two profiles of
# 1,000-value samples and thirty KS tests cost more than the rest of a review page.
CACHED = 256
_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def batch_drift(*, uow: UnitOfWork, workflow: Workflow, model: str, version: int,
                report_id: int) -> dict[str, Any] | None:
    """The drift of report `report_id` of this version against its reference profile; None when
    either is missing or has no features. Raises NotFound (model, version)."""
    with uow:
        version_row = uow.versions.row(uow.models.row(model), version)
        return drift_in(uow, workflow, model=model, version=version, version_id=version_row.id, report_id=report_id)


def drift_in(uow: UnitOfWork, workflow: Workflow, *, model: str, version: int, version_id: int,
             report_id: int) -> dict[str, Any] | None:
    """`batch_drift` inside a unit of work the caller holds open (the evidence snapshot's)."""
    report = uow.history.report_meta(report_id)
    if report is None or report.version_id != version_id:
        return None
    stamp = uow.history.reference_stamp(version_id)
    if stamp is None:
        return None
    policy = workflow.policy(report.env) if report.env in workflow.order else workflow.policy(workflow.first)
    key = (model, version, report.id, report.reported_at, stamp, policy.drift_psi_threshold, policy.drift_ks_pvalue)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    current, reference = uow.history.profiles(report.id, version_id)
    if reference is None or not current.get("features"):
        return None
    from signoff.domain import drift  # numpy: only when a batch is drawn
    from signoff.services.drift import ks_pvalue

    result = drift.assess(reference, current, psi_threshold=policy.drift_psi_threshold,
                          ks_pvalue=policy.drift_ks_pvalue, ks=ks_pvalue)
    features = [{"name": name, **f.to_dict()} for name, f in result.features.items()]
    features.sort(key=lambda f: (not f["drifted"], -(f["psi"] or 0.0), f["name"]))
    distributions = [
        _distribution(f["name"], reference["features"][f["name"]], current["features"][f["name"]])
        for f in features if f["drifted"]][:DISTRIBUTIONS_SHOWN]
    for d in distributions:
        if d is not None:  # the bin that gained most: "≥ 30.2 holds 100% of the batch, 10% of the reference"
            d["gain"] = max(d["bins"], key=lambda b: b["current"] - b["reference"]) if d["bins"] else None
    out = {
        "report_id": report.id, "env": report.env, "rows": report.rows, "reported_at": report.reported_at,
        "version": version, "psi_threshold": result.psi_threshold, "ks_pvalue": result.ks_pvalue,
        "ks_threshold": result.ks_threshold, "skipped": result.skipped,
        "missing_features": list(result.missing_features), "features": features,
        "drifted": result.drifted, "distributions": [d for d in distributions if d is not None],
        "distributions_left_out": max(0, len(result.drifted) - DISTRIBUTIONS_SHOWN),
    }
    with _cache_lock:
        _cache[key] = out
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return out


def request_drift(*, uow: UnitOfWork, workflow: Workflow, request: dict[str, Any]) -> dict[str, Any] | None:
    """The drift behind a request's evidence (an inference report), else None."""
    source = request.get("evidence_source") or {}
    if source.get("source") != "inference" or not isinstance(source.get("report_id"), int):
        return None
    return batch_drift(uow=uow, workflow=workflow, model=request["model"], version=request["version"],
                       report_id=source["report_id"])


def _distribution(name: str, ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any] | None:
    """Reference vs batch shares on the same bins: the reference deciles, or the top categories."""
    if ref.get("kind") != cur.get("kind"):
        return None
    if ref.get("kind") == "numeric":
        import numpy as np

        edges = [float(e) for e in ref.get("edges") or []]
        shares = list(ref.get("proportions") or [])
        sample = np.asarray(cur.get("sample") or [], dtype=float)
        if sample.size == 0 or len(shares) != len(edges) + 1:
            return None
        counts = np.bincount(np.searchsorted(np.asarray(edges), sample, side="right"), minlength=len(edges) + 1)
        current = (counts / sample.size).tolist()
        labels = [f"< {_short(edges[0])}"] if edges else ["all"]
        labels += [f"{_short(lo)} – {_short(hi)}" for lo, hi in zip(edges, edges[1:], strict=False)]
        labels += [f"≥ {_short(edges[-1])}"] if edges else []
        summary = {k: (ref.get(k), cur.get(k)) for k in ("mean", "std", "min", "max")}
        return {"name": name, "kind": "numeric", "bins": [
            {"label": label, "reference": float(r), "current": float(c)}
            for label, r, c in zip(labels, shares, current, strict=True)], "summary": summary}
    ref_counts, cur_counts = ref.get("counts") or {}, cur.get("counts") or {}
    ref_total, cur_total = sum(ref_counts.values()) or 1, sum(cur_counts.values()) or 1
    keys = sorted(set(ref_counts) | set(cur_counts),
                  key=lambda k: -(ref_counts.get(k, 0) / ref_total + cur_counts.get(k, 0) / cur_total))
    return {"name": name, "kind": "categorical", "summary": {}, "bins": [
        {"label": "other" if k == "__other__" else k, "reference": ref_counts.get(k, 0) / ref_total,
         "current": cur_counts.get(k, 0) / cur_total} for k in keys[:TOP_CATEGORIES]]}


def _short(value: float) -> str:
    return f"{value:.3g}"
