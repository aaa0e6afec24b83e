"""Signing costs: Ed25519 sign and verify per decision signature and per deployment attestation
(µs), and approvals per second with signing on (attestation + electronic signature record in the
decision's transaction) versus off (no key ring: nothing signed)."""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from databases import Database
from quick import pick

from signoff.adapters.keys import load_keyring
from signoff.bootstrap import bootstrap
from signoff.config import Settings
from signoff.domain.attestations import deployment_statement
from signoff.domain.events import canonical_json
from signoff.sdk._attest import (
    IN_TOTO_PAYLOAD_TYPE,
    REVOCATION_LIST_TYPE,
    REVOCATIONS_PAYLOAD_TYPE,
    SIGNATURE_PAYLOAD_TYPE,
    open_envelope,
    verify_attestation,
)
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import approvals
from signoff.services.esign import Reauthentication

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ARTIFACT = b"\0" * 4096


def _micro(fn: Any, n: int) -> float:
    """Median µs of `fn` over n calls (after a warm-up)."""
    for _ in range(min(200, n)):
        fn()
    samples = []
    for _ in range(n):
        s = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - s) / 1000)
    return round(statistics.median(samples), 1)


def _record() -> dict[str, Any]:
    return {"type": "signoff-electronic-signature/v1", "request_id": 123, "model": "churn", "version": 7, "env": "prod",
            "digest": "sha256:" + "ab" * 32, "decision": "approve", "meaning": "Approved for release to prod",
            "signer": {"user": "paula", "user_id": 42, "full_name": "Paula Lead"}, "signed_at": "2026-11-25T12:00:00Z",
            "auth": {"method": "password:ldap", "time": "2026-11-25T11:59:58Z"}, "evidence_sha256": "cd" * 32}


def _statement() -> dict[str, Any]:
    return deployment_statement(
        model="churn", version=7, artifact_uri="s3://models/churn/7/model.onnx",
        digest=hashlib.sha256(ARTIFACT).hexdigest(), env="prod", created_at=T0, change="approval", request_id=123,
        parameter="/signoff/models/churn/prod", parameter_version=9,
        approvers=[{"user": "paula", "meaning": "Approved for release to prod", "signed_at": "2026-11-25T12:00:00Z"},
                   {"user": "pete", "meaning": "Approved for release to prod", "signed_at": "2026-11-25T12:01:00Z"}],
        policy={"env": "prod", "approvers": ["ml-leads", "risk-office"], "quorum": "each-group"},
        signers=[{"signer": "paula", "meaning": "Approved for release to prod", "evidence_sha256": "cd" * 32},
                 {"signer": "pete", "meaning": "Approved for release to prod", "evidence_sha256": "ef" * 32}])


def _revocations(count: int) -> dict[str, Any]:
    """A revocation list of `count` entries (none matches the benchmarked attestation)."""
    entries = [{"model": f"m{i}", "version": i, "env": "prod", "digest": "sha256:" + hashlib.sha256(b"%d" % i).hexdigest(),
                "revoked_at": "2026-11-25T11:00:00Z", "revoked_by": "rita", "reason": "superseded"} for i in range(count)]
    return {"type": REVOCATION_LIST_TYPE, "issued_at": "2026-11-25T12:00:00Z", "count": count, "revocations": entries}


def micro_figures(home: Path, n: int = pick(2000, 300)) -> dict[str, Any]:
    ring = load_keyring(key=None, key_file=None, home=home, now=T0, say=lambda _: None)
    keys = ring.public_keys()
    record_body = canonical_json(_record()).encode()
    statement_body = canonical_json(_statement()).encode()
    signed_record = ring.envelope(SIGNATURE_PAYLOAD_TYPE, record_body)
    attestation = ring.envelope(IN_TOTO_PAYLOAD_TYPE, statement_body)
    revocations = ring.envelope(REVOCATIONS_PAYLOAD_TYPE, canonical_json(_revocations(1000)).encode())
    return {
        "signature_record_bytes": len(record_body),
        "attestation_statement_bytes": len(statement_body),
        "sign_decision_signature_us": _micro(lambda: ring.envelope(SIGNATURE_PAYLOAD_TYPE, record_body), n),
        "verify_decision_signature_us": _micro(lambda: open_envelope(signed_record, keys, SIGNATURE_PAYLOAD_TYPE), n),
        "sign_attestation_us": _micro(lambda: ring.envelope(IN_TOTO_PAYLOAD_TYPE, statement_body), n),
        "verify_attestation_us": _micro(
            lambda: verify_attestation(attestation, artifact=ARTIFACT, env="prod", keys=keys), n),
        # The deploy job's full check: the attestation and a signed list of 1,000 revocations.
        "verify_attestation_with_1000_revocations_us": _micro(
            lambda: verify_attestation(attestation, artifact=ARTIFACT, env="prod", keys=keys,
                                       revocations=revocations), max(50, n // 10)),
    }


def _approvals_per_s(database: Database, home: Path, label: str, *, signing: bool, n: int) -> float:
    settings = Settings(home=home / label, users={"dana": {"groups": ["ds"]}, "rita": {"groups": ["ml-reviewers"]}},
                        environments={"order": ["dev"], "dev": {"approvers": ["ml-reviewers"],
                                                                "signature": "reauth" if signing else "none"}})
    settings.database_url = database.fresh_url(home, label)
    ctx = bootstrap(settings, migrate_schema=True, say=lambda _: None)
    if not signing:
        ctx.keys = None  # no key ring: no attestations, no signature records
    try:
        dana = EmbeddedClient(actor="dana", context=ctx)
        for i in range(n):
            dana.register(f"m{i % 50}", f"s3://bucket/{i}.pkl", digest="sha256:" + hashlib.sha256(b"%d" % i).hexdigest())
        ids = [r["id"] for r in dana.requests(state="open", limit=500)][:n]
        ctx.dispatch_inline = False  # time the decision's transaction, not the mail targets behind it
        t0 = time.perf_counter()
        for rid in ids:
            reauth = Reauthentication("rita", "session:bench", ctx.clock.now(), 120) if signing else None
            approvals.decide(uow=ctx.uow(), workflow=ctx.workflow, request_id=rid, actor="rita", verdict="approve",
                             reauth=reauth)
        return round(len(ids) / (time.perf_counter() - t0), 1)
    finally:
        ctx.close()


def run_signing_bench(database: Database | None = None, approvals_n: int = pick(200, 50)) -> dict[str, Any]:
    database = database or Database("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        out = micro_figures(home / "keys")
        off = _approvals_per_s(database, home, "unsigned", signing=False, n=approvals_n)
        on = _approvals_per_s(database, home, "signed", signing=True, n=approvals_n)
    out.update({"approvals_per_s_signing_off": off, "approvals_per_s_signing_on": on,
                "signing_overhead_pct": round(100 * (off - on) / off, 1) if off else None})
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run_signing_bench(), indent=2))
