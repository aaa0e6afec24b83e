"""Signing keys, deployment attestations and audit checkpoints.

The public key set is public (no token): verifiers fetch it once and keep it. Attestations are
read with the `resolve` scope, as a deploy job resolves what it runs; checkpoints are `admin`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from signoff.adapters.db.signing_records import CheckpointRepository, VerificationRepository
from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import context, current_principal, require
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.routes.versions import VersionNumber
from signoff.services import attestations, audit_anchor, revocations

router = api_router("signing")
well_known = APIRouter(tags=["signing"])


def _keyset(ctx: Context) -> dict[str, Any]:
    return ctx.keys.public_keyset() if ctx.keys is not None else {"keys": []}


@router.get("/keys")
def public_keys(ctx: Context = Depends(context)) -> dict[str, Any]:
    """The server's public signing keys with key id and validity, retired ones included. No token needed."""
    return _keyset(ctx)


@well_known.get("/.well-known/signoff-keys.json")
def well_known_keys(ctx: Context = Depends(context)) -> dict[str, Any]:
    """The same key set at a well-known location."""
    return _keyset(ctx)


@router.get("/models/{model}/versions/{version}/attestations")
def list_attestations(model: str, version: VersionNumber, env: str | None = Query(None, max_length=64),
                      principal: Principal = Depends(require("resolve")),
                      ctx: Context = Depends(context)) -> dict[str, Any]:
    """Deployment attestations (DSSE envelopes of in-toto statements) of a version, newest first. Scope: resolve."""
    items = attestations.list_attestations(uow=ctx.uow(), workflow=ctx.workflow, model=model, version=version,
                                           env=env or None)
    return {"items": items, "next_cursor": None}


@router.get("/revocations")
def revocation_list(principal: Principal = Depends(require("resolve")),
                    ctx: Context = Depends(context)) -> dict[str, Any]:
    """Every revoked (model, version, digest, environment) with time, who and why, as a DSSE envelope
    signed with the server key: `signoff verify --revocations` checks it offline. Scope: resolve."""
    return revocations.revocation_list(uow=ctx.read_uow(), keys=ctx.keys)


@router.get("/models/{model}/versions/{version}/evidence")
def evidence_pack(model: str, version: VersionNumber, principal: Principal = Depends(current_principal),
                  ctx: Context = Depends(context)) -> dict[str, Any]:
    """The evidence pack of a version (JSON): requests, evidence, signatures, live history, audit slice
    with verification and covering checkpoint, attestations and public keys."""
    from signoff.services import evidence_pack as evidence

    return evidence.build_pack(uow_factory=ctx.uow, workflow=ctx.workflow, keys=ctx.keys, model=model,
                               version=version, actor=principal.name)


@router.post("/audit/checkpoints", status_code=201)
def create_checkpoint(principal: Principal = Depends(require("admin")),
                      ctx: Context = Depends(context)) -> dict[str, Any]:
    """Sign and keep a checkpoint of the audit chain's head; returns the DSSE envelope. Scope: admin."""
    return audit_anchor.create_checkpoint(uow=ctx.uow(), keys=ctx.keys)


@router.post("/audit/verify")
def verify_with_checkpoints(checkpoints: list[dict[str, Any]] = Body(default_factory=list, embed=True, max_length=1000),
                            principal: Principal = Depends(require("admin")),
                            ctx: Context = Depends(context)) -> dict[str, Any]:
    """Full audit verification against the stored checkpoints and the signed ones given. Scope: admin."""
    return audit_anchor.verify_audit(uow=ctx.uow(), keys=ctx.keys, checkpoints=checkpoints, by=principal.name,
                                     workflow=ctx.workflow)


class AuditCollector(Collector):
    """The last audit verification (by a worker's schedule or anyone's `audit verify`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            conn = self.ctx.engine.connect().execution_options(sqlite_begin="DEFERRED")
            with conn, Session(bind=conn) as session:
                last = VerificationRepository(session).latest()
                checkpoint = CheckpointRepository(session).latest_at()
        except Exception:  # a scrape must not fail because the database blinked
            return
        if last is not None:
            yield GaugeMetricFamily("signoff_audit_verification_ok",
                                    "1 if the last audit verification found nothing wrong, else 0",
                                    value=1.0 if last["ok"] else 0.0)
            yield GaugeMetricFamily("signoff_audit_verification_problems",
                                    "Discrepancies the last audit verification named", value=float(len(last["problems"])))
            yield GaugeMetricFamily("signoff_audit_verification_timestamp_seconds",
                                    "When the last audit verification ran", value=last["at"].timestamp())
        if checkpoint is not None:
            yield GaugeMetricFamily("signoff_audit_checkpoint_timestamp_seconds",
                                    "When the last signed audit checkpoint was taken", value=checkpoint.timestamp())
