"""The evidence pack of one version: everything an inspector asks for, checkable offline.

Version, lineage and digest; every request with the evidence its deciders saw (and its hash),
gate results, decisions with their electronic signatures; inference reports and drift; the live
history per environment; the audit entries about the version with the chain's verification
result and a signed checkpoint that covers them; the deployment attestations; and the public
keys that check all of it. `signoff verify --evidence` re-checks the JSON form without a server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from signoff.domain.attestations import evidence_hash, rfc3339
from signoff.domain.signature_gaps import mark_unsigned, requires_signature
from signoff.domain.workflow import Workflow
from signoff.services import attestations, audit_anchor, esign, registry, review
from signoff.services.attestations import request_evidence
from signoff.services.ports import Signer, UnitOfWork

FORMAT = "signoff-evidence-pack/v1"


def build_pack(*, uow_factory: Any, workflow: Workflow, keys: Any, model: str, version: int,
               actor: str) -> dict[str, Any]:
    """The pack as a JSON-ready dict; raises NotFound."""
    v = registry.get_version(uow=uow_factory(), workflow=workflow, model=model, version=version).to_dict()
    requests = review.version_requests(uow=uow_factory(), workflow=workflow, model=model, version=version)
    signatures = esign.signatures_for(uow=uow_factory(), request_ids=[r["id"] for r in requests])
    with uow_factory() as uow:
        for r in requests:
            r["evidence_sha256"] = evidence_hash(request_evidence(uow.requests.row(r["id"])))
            r["signatures"] = [{**esign.manifestation(s), "envelope": s["envelope"]} for s in signatures[r["id"]]]
        live_history = _live_history(uow, workflow, model)
        entries = _audit_slice(uow, model, version)
    assessed = drift_by_report(entries)
    for r in requests:
        r["drift"] = request_drift(r, assessed)
    reports = review.version_reports(uow=uow_factory(), model=model, version=version)
    for report in reports:
        report["drift"] = assessed.get(report["id"])
    mark_unsigned(requests, requires_signature(workflow))
    verification = audit_anchor.verify_audit(uow=uow_factory(), keys=keys, by=actor, workflow=workflow)
    checkpoint = _covering_checkpoint(uow_factory, keys, max((e["id"] for e in entries), default=0))
    return {
        "format": FORMAT,
        "generated_at": rfc3339(_now(uow_factory)),
        "generated_by": actor,
        "version": v,
        "requests": requests,
        "inference_reports": reports,
        "drift": [{"at": e["at"], "env": (e["after"] or {}).get("env"), "details": e["after"]}
                  for e in entries if e["action"] == "drift.detected"],
        "live_history": live_history,
        "audit": {"entries": entries, "verification": verification, "checkpoint": checkpoint},
        "attestations": attestations.list_attestations(uow=uow_factory(), workflow=workflow, model=model,
                                                       version=version),
        "public_keys": keys.public_keyset() if keys is not None else {"keys": []},
    }


def drift_by_report(entries: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Each inference report's drift assessment as the chain recorded it (per feature PSI and KS
    p-value, the thresholds in force then), by report id."""
    out = {}
    for e in entries:
        raw = e.get("after")
        after: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if e.get("action") == "inference.reported" and isinstance(after.get("drift"), dict):
            out[int(after["id"])] = {"report_id": after["id"], "env": after.get("env"), **after["drift"]}
    return out


def request_drift(request: dict[str, Any], assessed: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The drift of the batch a request's evidence came from, or None (training metrics, no profile)."""
    source = request.get("evidence_source") or {}
    if source.get("source") != "inference" or source.get("report_id") is None:
        return None
    return assessed.get(int(source["report_id"]))


def _now(uow_factory: Any) -> Any:
    with uow_factory() as uow:
        return uow.clock.now()


def _live_history(uow: UnitOfWork, workflow: Workflow, model: str) -> dict[str, list[dict[str, Any]]]:
    model_row = uow.models.row(model)
    numbers: dict[int, int] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    for env in workflow.order:
        moves = []
        for p in uow.live.history(model_row.id, env):
            for vid in (p.version_id, p.previous_version_id):
                if vid is not None and vid not in numbers:
                    numbers[vid] = uow.versions.by_id(vid).number
            moves.append({"at": p.at.isoformat(), "change": p.kind, "actor": p.actor, "reason": p.reason,
                          "version": numbers.get(p.version_id) if p.version_id else None,
                          "previous_version": numbers.get(p.previous_version_id) if p.previous_version_id else None,
                          "request_id": p.request_id})
        out[env] = moves
    return out


def _audit_slice(uow: UnitOfWork, model: str, version: int) -> list[dict[str, Any]]:
    """The chain's entries about this version (its own subject, and live moves that made it live)."""
    subject = f"models/{model}/versions/{version}"
    out: list[dict[str, Any]] = []
    after = None
    while True:
        batch = uow.audit.list(model=model, after=after, limit=1000)
        if not batch:
            return out
        for e in batch:
            moved_here = e.action == attestations.LIVE_MOVED and isinstance(e.after, dict) \
                and e.after.get("version") == version
            if e.subject == subject or moved_here:
                out.append(e.to_dict())
        after = batch[-1].id


def _covering_checkpoint(uow_factory: Callable[[], UnitOfWork], keys: Signer | None,
                         last_id: int) -> dict[str, Any] | None:
    """The newest stored checkpoint at or after the slice's last entry; a new one if none covers it."""
    import base64
    import json

    with uow_factory() as uow:
        stored = uow.checkpoints.envelopes()
    for envelope in stored[::-1]:
        head = json.loads(base64.b64decode(envelope["payload"])).get("head_id") or 0
        if head >= last_id:
            return envelope
    if keys is None:
        return None
    return audit_anchor.create_checkpoint(uow=uow_factory(), keys=keys)


def render_html(pack: dict[str, Any]) -> str:
    """A printable HTML page of the pack."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("signoff", "templates/evidence"), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["utc"] = lambda text: str(text or "").replace("T", " ").replace("+00:00", " UTC").replace("Z", " UTC")
    return env.get_template("pack.html").render(pack=pack)


def render_pdf(pack: dict[str, Any]) -> bytes:
    """The HTML page printed to PDF with WeasyPrint (the `evidence` extra)."""
    try:
        from weasyprint import HTML
    except ImportError:
        from signoff.errors import ServiceUnavailable

        raise ServiceUnavailable("PDF needs WeasyPrint: pip install 'signoff[evidence]'") from None
    pdf: bytes = HTML(string=render_html(pack)).write_pdf()  # WeasyPrint ships no types
    return pdf
