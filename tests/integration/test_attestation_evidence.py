"""A deployment attestation binds what each approver was shown: per signer, the hash of the
evidence snapshot frozen with that signer's decision (not the request's evidence), checked by
the offline verifier and the evidence pack; attestations in the earlier form keep verifying."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import make_settings, unique
from tests.e2e.test_esignatures import MEANINGS, PASSWORDS, users_with_passwords
from tests.integration.test_attestations import run_offline

from signoff import VerificationFailed, verify_attestation
from signoff.bootstrap import Context, bootstrap
from signoff.domain.attestations import canonical_sha256, deployment_statement, evidence_hash
from signoff.domain.events import canonical_json
from signoff.sdk._attest import IN_TOTO_PAYLOAD_TYPE
from signoff.sdk._embedded import EmbeddedClient
from signoff.sdk._evidence import verify_evidence
from signoff.services.ports import FixedClock

ENVS = {"order": ["dev", "prod"],
        "dev": {"approvers": ["ml-reviewers"], "required_approvals": 2, "signature": "reauth", "meanings": MEANINGS},
        "prod": {"approvers": ["ml-reviewers"]}}


@pytest.fixture
def two_signer_ctx(tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    ctx = bootstrap(make_settings(tmp_path, users=users_with_passwords(), environments=ENVS), clock=clock)
    yield ctx
    ctx.close()


def statement_of(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[no-any-return]


def resign(ctx: Context, statement: dict[str, Any]) -> dict[str, Any]:
    return ctx.keys.envelope(IN_TOTO_PAYLOAD_TYPE, canonical_json(statement).encode())  # type: ignore[no-any-return]


def approved_by_two(ctx: Context, clock: FixedClock, tmp_path: Path) -> tuple[str, Path, dict[str, Any]]:
    name = unique()
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(os.urandom(64))
    EmbeddedClient(actor="dana", context=ctx).register(name, str(artifact))
    EmbeddedClient(actor="rita", context=ctx).approve(name, 1, "dev", password=PASSWORDS["rita"], meaning=MEANINGS[0])
    clock.advance(minutes=5)  # the second signer is shown a later snapshot (captured at another time)
    ron = EmbeddedClient(actor="ron", context=ctx)
    ron.approve(name, 1, "dev", password=PASSWORDS["ron"], meaning=MEANINGS[1])
    return name, artifact, dict(ron.evidence(name, 1))


class TestPerSignerEvidence:
    def test_the_attestation_lists_each_signer_with_the_hash_of_their_own_snapshot(
        self, two_signer_ctx: Context, clock: FixedClock, tmp_path: Path
    ) -> None:
        _, artifact, pack = approved_by_two(two_signer_ctx, clock, tmp_path)
        [request] = pack["requests"]
        frozen = {d["actor"]: evidence_hash(d["evidence"]) for d in request["decisions"]}
        signed = {s["user"]: s["evidence_sha256"] for s in request["signatures"]}
        assert frozen == signed and len(set(frozen.values())) == 2 and request["evidence_sha256"] not in frozen.values()
        [attestation] = pack["attestations"]
        [decision] = statement_of(attestation["envelope"])["predicate"]["decisionDetails"]["evidence"]
        signers = decision["annotations"]["signers"]
        assert decision["annotations"]["evidence_version"] == 2
        assert signers == [{"signer": "rita", "meaning": MEANINGS[0], "evidence_sha256": frozen["rita"]},
                           {"signer": "ron", "meaning": MEANINGS[1], "evidence_sha256": frozen["ron"]}]
        assert decision["digest"] == {"sha256": canonical_sha256(signers)}
        assert verify_attestation(attestation["envelope"], artifact=artifact, env="dev",
                                  keys=two_signer_ctx.keys.public_keys())
        assert verify_evidence(pack)["attestations"] == 1

    def test_the_offline_verifier_refuses_a_signer_list_that_does_not_match_its_digest(
        self, two_signer_ctx: Context, clock: FixedClock, tmp_path: Path
    ) -> None:
        _, artifact, pack = approved_by_two(two_signer_ctx, clock, tmp_path)
        statement = statement_of(pack["attestations"][0]["envelope"])
        decision = statement["predicate"]["decisionDetails"]["evidence"][0]
        decision["annotations"]["signers"][1]["evidence_sha256"] = "0" * 64
        with pytest.raises(VerificationFailed, match="signers do not match the decision's digest"):
            verify_attestation(resign(two_signer_ctx, statement), artifact=artifact, env="dev",
                               keys=two_signer_ctx.keys.public_keys())
        decision["annotations"]["evidence_version"] = 3
        with pytest.raises(VerificationFailed, match="evidence form 3"):
            verify_attestation(resign(two_signer_ctx, statement), artifact=artifact, env="dev",
                               keys=two_signer_ctx.keys.public_keys())

    def test_the_evidence_pack_refuses_an_attestation_whose_signer_hash_is_not_that_signers_snapshot(
        self, two_signer_ctx: Context, clock: FixedClock, tmp_path: Path
    ) -> None:
        _, _, pack = approved_by_two(two_signer_ctx, clock, tmp_path)
        statement = statement_of(pack["attestations"][0]["envelope"])
        decision = statement["predicate"]["decisionDetails"]["evidence"][0]
        request = pack["requests"][0]
        # Signed by the server key and self-consistent, but binding the request-level evidence.
        for signer in decision["annotations"]["signers"]:
            signer["evidence_sha256"] = request["evidence_sha256"]
        decision["digest"] = {"sha256": canonical_sha256(decision["annotations"]["signers"])}
        pack["attestations"][0]["envelope"] = resign(two_signer_ctx, statement)
        path = tmp_path / "pack.json"
        path.write_text(json.dumps(pack))
        refused = run_offline([sys.executable, "-m", "signoff.entrypoints.cli", "verify", "--evidence", str(path)],
                              tmp_path)
        assert refused.returncode == 1 and "rita" in refused.stderr and "evidence" in refused.stderr, refused.stderr


class TestTheEarlierForm:
    def test_an_attestation_with_the_request_level_evidence_hash_still_verifies(
        self, two_signer_ctx: Context, clock: FixedClock, tmp_path: Path
    ) -> None:
        _, artifact, pack = approved_by_two(two_signer_ctx, clock, tmp_path)
        request = pack["requests"][0]
        current = statement_of(pack["attestations"][0]["envelope"])
        decision = current["predicate"]["decisionDetails"]["evidence"][0]["annotations"]
        old = deployment_statement(
            model=pack["version"]["model"], version=1, artifact_uri=current["subject"][0]["name"],
            digest=current["subject"][0]["digest"]["sha256"], env="dev",
            created_at=clock.now(), change="approval", request_id=request["id"], parameter=decision["parameter"],
            parameter_version=decision["parameter_version"], approvers=decision["approvers"], policy={"env": "dev"},
            evidence_sha256=request["evidence_sha256"])
        assert "signers" not in old["predicate"]["decisionDetails"]["evidence"][0]["annotations"]
        envelope = resign(two_signer_ctx, old)
        assert verify_attestation(envelope, artifact=artifact, env="dev", keys=two_signer_ctx.keys.public_keys())
        pack["attestations"][0]["envelope"] = envelope
        assert verify_evidence(pack)["attestations"] == 1
        old["predicate"]["decisionDetails"]["evidence"][0]["digest"] = {"sha256": "1" * 64}
        pack["attestations"][0]["envelope"] = resign(two_signer_ctx, old)
        with pytest.raises(VerificationFailed, match="request-level evidence"):
            verify_evidence(pack)
