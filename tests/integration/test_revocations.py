"""The signed revocation list: published by the server (`GET /api/v1/revocations`, `signoff
revocations`), signed with the server key, and checked by the offline verifier before it trusts
an entry (a list with an entry removed, or one nobody signed, is refused)."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import unique
from tests.e2e.conftest import Api, error_of
from tests.integration.test_attestations import run_offline
from tests.integration.test_cli import Cli

from signoff import VerificationFailed, verify_attestation
from signoff.bootstrap import Context
from signoff.sdk._attest import REVOCATIONS_PAYLOAD_TYPE, verify_revocations
from signoff.sdk._embedded import EmbeddedClient


def payload_of(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[no-any-return]


def reencoded(envelope: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    return {**envelope, "payload": base64.b64encode(json.dumps(payload).encode()).decode()}


class TestTheOfflineVerifierRefusesRevokedVersions:
    @pytest.fixture
    def deploy(self, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Cli, Path]:
        home = tmp_path / "server"
        home.mkdir()
        cli = Cli(home, request)
        model = home / "model.bin"
        model.write_bytes(os.urandom(256))
        assert cli("register", "churn", "--artifact", str(model), "--as", "dana").returncode == 0
        assert cli("approve", "churn", "1", "--env", "dev", "--as", "rita").returncode == 0
        deploy = tmp_path / "deploy"
        deploy.mkdir()
        for name, args in (("attestation.json", ("attestation", "churn", "1", "--env", "dev")),
                           ("keys.json", ("keys", "export-public"))):
            out = cli(*args)
            assert out.returncode == 0, out.stderr
            (deploy / name).write_text(out.stdout)
        (deploy / "model.bin").write_bytes(model.read_bytes())
        return cli, deploy

    def verify(self, deploy: Path, revocations: Path) -> Any:
        return run_offline([sys.executable, "-m", "signoff.entrypoints.cli", "verify", str(deploy / "attestation.json"),
                            "--artifact", str(deploy / "model.bin"), "--env", "dev", "--keys",
                            str(deploy / "keys.json"), "--revocations", str(revocations)], deploy)

    def test_an_exported_list_names_the_revocation_and_the_verifier_refuses_it(
        self, deploy: tuple[Cli, Path]
    ) -> None:
        cli, where = deploy
        before = cli("revocations", "-o", str(where / "before.json"))
        assert before.returncode == 0, before.stderr
        assert payload_of(json.loads((where / "before.json").read_text()))["revocations"] == []
        ok = self.verify(where, where / "before.json")
        assert ok.returncode == 0, ok.stderr

        out = cli("revoke", "churn", "1", "--env", "dev", "--reason", "leaks PII", "--as", "rita")
        assert out.returncode == 0, out.stderr
        printed = cli("revocations")
        assert printed.returncode == 0, printed.stderr
        envelope = json.loads(printed.stdout)
        assert envelope["payloadType"] == REVOCATIONS_PAYLOAD_TYPE
        listed = payload_of(envelope)
        assert listed["type"] == "signoff-revocation-list" and listed["count"] == 1
        [entry] = listed["revocations"]
        digest = payload_of(json.loads((where / "attestation.json").read_text()))["subject"][0]["digest"]["sha256"]
        assert {k: entry[k] for k in ("model", "version", "env", "digest", "reason", "revoked_by")} == {
            "model": "churn", "version": 1, "env": "dev", "digest": f"sha256:{digest}", "reason": "leaks PII",
            "revoked_by": "rita"}
        assert entry["revoked_at"].endswith("Z")

        (where / "revoked.json").write_text(printed.stdout)
        refused = self.verify(where, where / "revoked.json")
        assert refused.returncode == 1 and refused.stderr.startswith("refused: revoked"), refused.stderr
        assert "leaks PII" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    def test_a_tampered_or_unsigned_list_is_refused(self, deploy: tuple[Cli, Path]) -> None:
        cli, where = deploy
        assert cli("revoke", "churn", "1", "--env", "dev", "--reason", "bad", "--as", "rita").returncode == 0
        assert cli("revocations", "-o", str(where / "revoked.json")).returncode == 0
        envelope = json.loads((where / "revoked.json").read_text())
        emptied = payload_of(envelope)
        emptied["revocations"], emptied["count"] = [], 0
        (where / "emptied.json").write_text(json.dumps(reencoded(envelope, emptied)))
        (where / "unsigned.json").write_text(json.dumps(emptied))
        (where / "plain.json").write_text("[]")
        for name, reason in (("emptied.json", "does not verify"), ("unsigned.json", "not signed"),
                             ("plain.json", "not signed")):
            out = self.verify(where, where / name)
            assert out.returncode == 1 and out.stderr.startswith("refused: ") and reason in out.stderr, (name, out.stderr)

    def test_a_list_signed_by_another_key_is_refused(self, deploy: tuple[Cli, Path], tmp_path: Path) -> None:
        _, where = deploy
        stranger = tmp_path / "stranger"
        stranger.mkdir()
        other = Cli(stranger)
        assert other("revocations", "-o", str(where / "theirs.json")).returncode == 0
        out = self.verify(where, where / "theirs.json")
        assert out.returncode == 1 and "unknown key" in out.stderr, out.stderr


class TestTheRevocationEndpoint:
    def test_it_lists_each_revoked_environment_signed_and_needs_a_token(self, ctx: Context, tmp_path: Path) -> None:
        api = Api(ctx)
        name = unique()
        dana, rita = EmbeddedClient(actor="dana", context=ctx), EmbeddedClient(actor="rita", context=ctx)
        artifact = tmp_path / "m.bin"
        artifact.write_bytes(os.urandom(32))
        dana.register(name, str(artifact))
        rita.approve(name, 1, "dev")
        dana.report_inference(name, 1, "dev", metrics={"accuracy": 0.95}, rows=100)
        EmbeddedClient(actor="ron", context=ctx).approve(name, 1, "test")
        rita.revoke(name, 1, "dev", reason="wrong features")

        assert error_of(api.http.get("/api/v1/revocations"))["code"] == "unauthenticated"
        response = api.http.get("/api/v1/revocations", headers=api.auth("eve", "resolve"))
        assert response.status_code == 200, response.text
        listed = verify_revocations(response.json(), ctx.keys.public_keys())
        mine = sorted((e["env"], e["reason"]) for e in listed["revocations"] if e["model"] == name)
        assert mine == [("dev", "wrong features"), ("test", "wrong features")]  # the cascade, one entry each

        remote = api.client("eve", "resolve").revocations()
        assert payload_of(remote)["revocations"] == payload_of(response.json())["revocations"]
        attestation = rita.attestations(name, 1, env="test")[-1]["envelope"]
        with pytest.raises(VerificationFailed, match="revoked"):
            verify_attestation(attestation, artifact=artifact, env="test", keys=ctx.keys.public_keys(),
                               revocations=remote)
        api.http.close()
