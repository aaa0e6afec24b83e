"""Signing keys and deployment attestations: where keys live, how they rotate, what is attested
when a version goes live, and the offline verifier and an independent DSSE library agreeing."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from fastapi.testclient import TestClient
from tests.conftest import make_settings, unique
from tests.integration.test_cli import Cli

from signoff import VerificationFailed, verify_attestation
from signoff.adapters.keys import rotate
from signoff.bootstrap import Context, bootstrap
from signoff.config import new_secret_key
from signoff.domain.attestations import canonical_sha256, evidence_hash
from signoff.entrypoints.api import create_app
from signoff.errors import InvalidInput
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import tokens
from signoff.services.attestations import request_evidence
from signoff.services.ports import FixedClock


def statement_of(envelope: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[no-any-return]


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom(64))
    return path


def live_in_dev(ctx: Context, artifact: Path) -> tuple[str, EmbeddedClient]:
    name = unique()
    EmbeddedClient(actor="dana", context=ctx).register(name, str(artifact))
    rita = EmbeddedClient(actor="rita", context=ctx)
    rita.approve(name, 1, "dev")
    return name, rita


class TestSigningKeys:
    def test_the_first_start_creates_a_private_key_file_and_says_where(self, tmp_path: Path, clock: FixedClock) -> None:
        said: list[str] = []
        settings = make_settings(tmp_path)
        ctx = bootstrap(settings, clock=clock, say=said.append)
        try:
            path = settings.home / "signing-key.json"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert len(said) == 1 and str(path) in said[0] and ctx.keys is not None and ctx.keys.keyid[:16] in said[0]
        finally:
            ctx.close()
        again = bootstrap(settings, clock=clock, say=said.append)
        assert len(said) == 1 and again.keys is not None and again.keys.keyid == ctx.keys.keyid
        again.close()

    def test_a_configured_key_that_cannot_be_read_stops_the_start(self, tmp_path: Path) -> None:
        missing = tmp_path / "nowhere" / "key.json"
        with pytest.raises(InvalidInput, match="cannot read the signing key file .*key.json"):
            bootstrap(make_settings(tmp_path, signing={"key_file": missing}))
        with pytest.raises(InvalidInput, match="cannot read the signing key from SIGNOFF_SIGNING__KEY"):
            bootstrap(make_settings(tmp_path, signing={"key": "not a key"}))
        assert not (tmp_path / ".signoff" / "signing-key.json").exists()

    def test_db_upgrade_and_server_start_stop_with_one_line_on_an_unreadable_key(self, tmp_path: Path) -> None:
        cli = Cli(tmp_path)
        cli.env["SIGNOFF_SIGNING__KEY_FILE"] = str(tmp_path / "missing-key.json")
        upgrade = cli("db", "upgrade")
        assert upgrade.returncode == 2
        assert upgrade.stderr.strip().splitlines() == [
            f"error: cannot read the signing key file {tmp_path / 'missing-key.json'}: No such file or directory"]
        # A strong secret key, so the start gets past that check and reaches the signing key.
        strong = {**cli.env, "SIGNOFF_SERVER__SECRET_KEY": new_secret_key()}
        server = subprocess.run([sys.executable, "-m", "signoff.entrypoints.cli", "server", "--port", "1"],
                                capture_output=True, text=True, env=strong, cwd=tmp_path, timeout=60)
        assert server.returncode == 2
        assert server.stderr.strip().splitlines()[-1].startswith("error: cannot read the signing key file")
        cli.env.pop("SIGNOFF_SIGNING__KEY_FILE")
        created = cli("db", "upgrade")
        assert created.returncode == 0 and "created signing key" in created.stderr

    def test_a_pem_key_in_the_environment_signs(self, tmp_path: Path, clock: FixedClock, artifact: Path) -> None:
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
        ctx = bootstrap(make_settings(tmp_path, signing={"key": pem}), clock=clock)
        try:
            name, rita = live_in_dev(ctx, artifact)
            envelope = rita.attestation(name, 1, "dev")
            assert verify_attestation(envelope, artifact=artifact, env="dev", keys=rita.public_keys())
            assert not (tmp_path / ".signoff" / "signing-key.json").exists()
        finally:
            ctx.close()

    def test_rotation_keeps_old_signatures_verifiable_and_signs_with_the_new_key(
        self, ctx: Context, artifact: Path, clock: FixedClock
    ) -> None:
        assert ctx.keys is not None and ctx.keys.path is not None
        name, rita = live_in_dev(ctx, artifact)
        old_envelope = rita.attestation(name, 1, "dev")
        clock.advance(minutes=5)
        old, new = rotate(ctx.keys.path, clock.now())
        time.sleep(1.1)  # a running process looks at the file at most once a second
        assert ctx.keys.keyid == new != old
        keyset = rita.public_keys()
        assert [k["keyid"] for k in keyset["keys"]] == [old, new]
        assert keyset["keys"][0]["not_after"] is not None and "private" not in json.dumps(keyset)
        assert verify_attestation(old_envelope, artifact=artifact, env="dev", keys=keyset)
        clock.advance(minutes=1)
        EmbeddedClient(actor="dana", context=ctx).register(name, str(artifact))
        rita.approve(name, 2, "dev")
        new_envelope = rita.attestation(name, 2, "dev")
        assert new_envelope["signatures"][0]["keyid"] == new
        assert verify_attestation(new_envelope, artifact=artifact, env="dev", keys=keyset)
        only_old = {"keys": [keyset["keys"][0]]}
        with pytest.raises(VerificationFailed, match="unknown key"):
            verify_attestation(new_envelope, artifact=artifact, env="dev", keys=only_old)

    def test_public_keys_are_published_without_a_token(self, ctx: Context) -> None:
        with TestClient(create_app(ctx)) as http:
            api = http.get("/api/v1/keys")
            well_known = http.get("/.well-known/signoff-keys.json")
        assert api.status_code == well_known.status_code == 200
        assert api.json() == well_known.json() == ctx.keys.public_keyset()  # type: ignore[union-attr]
        key = api.json()["keys"][0]
        assert {"keyid", "keyval", "not_before", "not_after"} <= set(key) and "private" not in json.dumps(api.json())


class TestAttestationsOfLiveMoves:
    def test_an_approval_is_attested_with_its_decision(self, ctx: Context, artifact: Path) -> None:
        name, rita = live_in_dev(ctx, artifact)
        [item] = rita.attestations(name, 1, env="dev")
        assert (item.change, item.parameter_version, item.env) == ("approval", 1, "dev")
        statement = statement_of(item.envelope)
        assert statement["_type"] == "https://in-toto.io/Statement/v1"
        assert statement["predicateType"] == "https://in-toto.io/attestation/deployment/v1"
        [subject] = statement["subject"]
        assert subject["digest"]["sha256"] == rita.version(name, 1).digest.removeprefix("sha256:")
        predicate = statement["predicate"]
        assert predicate["scopes"] == {"signoff.dev/environment/v1": "dev"}
        assert predicate["creationTime"] == "2026-11-25T12:00:00Z"
        [evidence] = predicate["decisionDetails"]["evidence"]
        request = rita.request(item.request_id)
        # Evidence form 2: each approver with the hash of the snapshot frozen with their decision.
        [decision] = [d for d in request.decisions if d["actor"] == "rita"]
        signers = [{"signer": "rita", "meaning": None, "evidence_sha256": evidence_hash(decision["evidence"])}]
        assert evidence["annotations"]["signers"] == signers and evidence["annotations"]["evidence_version"] == 2
        assert evidence["digest"]["sha256"] == canonical_sha256(signers)
        with ctx.uow() as uow:
            assert evidence_hash(request_evidence(uow.requests.row(item.request_id))) not in str(evidence)
        assert evidence["annotations"]["approvers"] == [{"user": "rita"}]
        assert evidence["annotations"]["request_id"] == request.id
        assert evidence["annotations"]["parameter_version"] == 1
        assert predicate["decisionDetails"]["policy"][0]["annotations"]["policy"]["approvers"] == ["ml-reviewers"]
        assert verify_attestation(item.envelope, artifact=artifact, env="dev", keys=rita.public_keys())

    def test_rollback_and_break_glass_are_attested_too(self, ctx: Context, artifact: Path) -> None:
        name, rita = live_in_dev(ctx, artifact)
        EmbeddedClient(actor="dana", context=ctx).register(name, str(artifact))
        rita.approve(name, 2, "dev")
        EmbeddedClient(actor="ron", context=ctx).rollback(name, "dev", reason="v2 misbehaves")
        assert [a.change for a in rita.attestations(name, 1, env="dev")] == ["rollback", "approval"]
        EmbeddedClient(actor="erin", context=ctx).break_glass(name, 1, "test", justification="customer outage fix")
        [glass] = rita.attestations(name, 1, env="test")
        assert glass.change == "break_glass"
        assert verify_attestation(glass.envelope, artifact=artifact, env="test", keys=rita.public_keys())

    def test_no_live_change_without_its_attestation(self, ctx: Context, artifact: Path) -> None:
        name = unique()
        EmbeddedClient(actor="dana", context=ctx).register(name, str(artifact))

        class BrokenSigner:
            def envelope(self, payload_type: str, body: bytes) -> dict[str, Any]:
                raise RuntimeError("signing device unplugged")

        keys, ctx.keys = ctx.keys, BrokenSigner()  # type: ignore[assignment]
        try:
            with pytest.raises(RuntimeError, match="unplugged"):
                EmbeddedClient(actor="rita", context=ctx).approve(name, 1, "dev")
        finally:
            ctx.keys = keys
        rita = EmbeddedClient(actor="rita", context=ctx)
        assert rita.version(name, 1).stages["dev"] == "PendingManualApproval"
        assert rita.requests(model=name)[0].state == "open" and rita.attestations(name, 1) == []

    def test_the_rest_api_and_the_sdk_list_them(self, ctx: Context, artifact: Path) -> None:
        name, _ = live_in_dev(ctx, artifact)
        token, _ = tokens.create_token(uow=ctx.uow(), user="dana", scopes=["resolve"], actor="test")
        with TestClient(create_app(ctx)) as http:
            auth = {"Authorization": f"Bearer {token}"}
            ok = http.get(f"/api/v1/models/{name}/versions/1/attestations", params={"env": "dev"}, headers=auth)
            assert ok.status_code == 200 and len(ok.json()["items"]) == 1
            assert http.get(f"/api/v1/models/{name}/versions/1/attestations", params={"env": "prod"},
                            headers=auth).json()["items"] == []
            assert http.get(f"/api/v1/models/{name}/versions/1/attestations", params={"env": "nope"},
                            headers=auth).status_code == 404
            assert http.get(f"/api/v1/models/{name}/versions/1/attestations").status_code == 401
        assert ok.json()["items"][0]["envelope"]["payloadType"] == "application/vnd.in-toto+json"


def run_offline(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A process that cannot reach any database: no signoff settings, and a database URL that points nowhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    env["SIGNOFF_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


INTEROP = textwrap.dedent("""
    import base64, json, sys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner, SSlibKey

    mode, path = sys.argv[1], sys.argv[2]
    if mode == "verify":  # signoff's envelope, checked by securesystemslib against the exported keys
        keys = json.load(open(sys.argv[3]))["keys"]
        trusted = [SSlibKey(k["keyid"], k["keytype"], k["scheme"], k["keyval"]) for k in keys]
        envelope = Envelope.from_dict(json.load(open(path)))
        accepted = envelope.verify(trusted, 1)
        statement = json.loads(envelope.payload)
        print(json.dumps({"keyids": sorted(accepted), "env": statement["predicate"]["scopes"]}))
    else:  # an envelope securesystemslib signs, for signoff's verifier
        private = Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        import hashlib
        keyid = hashlib.sha256(raw).hexdigest()
        key = SSlibKey(keyid, "ed25519", "ed25519", {"public": raw.hex()})
        statement = json.loads(base64.b64decode(json.load(open(path))["payload"]))
        envelope = Envelope(json.dumps(statement).encode(), "application/vnd.in-toto+json", {})
        envelope.sign(CryptoSigner(private, key))
        json.dump(envelope.to_dict(), open(sys.argv[3], "w"))
        json.dump({"keys": [{**key.to_dict(), "keyid": keyid, "not_before": "2000-01-01T00:00:00Z",
                             "not_after": None}]}, open(sys.argv[4], "w"))
""")


class TestOfflineVerification:
    @pytest.fixture
    def signed(self, tmp_path: Path) -> tuple[Path, Path, Path, Path]:
        home = tmp_path / "server"
        home.mkdir()
        cli = Cli(home)
        model = home / "model.bin"
        model.write_bytes(os.urandom(256))
        assert cli("register", "churn", "--artifact", str(model), "--as", "dana").returncode == 0
        assert cli("approve", "churn", "1", "--env", "dev", "--as", "rita").returncode == 0
        out = cli("attestation", "churn", "1", "--env", "dev")
        assert out.returncode == 0, out.stderr
        deploy = tmp_path / "deploy"
        deploy.mkdir()
        (deploy / "attestation.json").write_text(out.stdout)
        keys = cli("keys", "export-public")
        assert keys.returncode == 0, keys.stderr
        (deploy / "keys.json").write_text(keys.stdout)
        (deploy / "model.bin").write_bytes(model.read_bytes())
        return deploy, deploy / "attestation.json", deploy / "keys.json", deploy / "model.bin"

    def verify(self, deploy: Path, attestation: Path, artifact: Path, env: str, keys: Path,
               *extra: str) -> subprocess.CompletedProcess[str]:
        return run_offline([sys.executable, "-m", "signoff.entrypoints.cli", "verify", str(attestation), "--artifact",
                            str(artifact), "--env", env, "--keys", str(keys), *extra], deploy)

    def test_the_real_attestation_verifies_and_every_forgery_is_refused(
        self, signed: tuple[Path, Path, Path, Path]
    ) -> None:
        deploy, attestation, keys, model = signed
        ok = self.verify(deploy, attestation, model, "dev", keys)
        assert ok.returncode == 0 and ok.stdout.startswith("ok: churn version 1"), ok.stderr
        other = deploy / "other.bin"
        other.write_bytes(model.read_bytes() + b"\0")
        refusals = {"wrong bytes": self.verify(deploy, attestation, other, "dev", keys),
                    "wrong env": self.verify(deploy, attestation, model, "prod", keys)}
        envelope = json.loads(attestation.read_text())
        statement = statement_of(envelope)
        statement["predicate"]["scopes"]["signoff.dev/environment/v1"] = "prod"
        envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
        tampered = deploy / "tampered.json"
        tampered.write_text(json.dumps(envelope))
        refusals["tampered payload"] = self.verify(deploy, tampered, model, "prod", keys)
        stranger = deploy / "stranger"
        stranger.mkdir()
        assert run_offline([sys.executable, "-m", "signoff.entrypoints.cli", "keys", "init"], stranger).returncode == 0
        strange_keys = deploy / "strange-keys.json"
        strange_keys.write_text(run_offline([sys.executable, "-m", "signoff.entrypoints.cli", "keys",
                                             "export-public"], stranger).stdout)
        refusals["unknown key"] = self.verify(deploy, attestation, model, "dev", strange_keys)
        revocations = deploy / "revoked.json"
        revocations.write_text(json.dumps([{"model": "churn", "version": 1, "env": "dev"}]))
        refusals["unsigned revocation list"] = self.verify(deploy, attestation, model, "dev", keys, "--revocations",
                                                           str(revocations))
        reasons = {what: (r.returncode, r.stderr.strip()) for what, r in refusals.items()}
        assert all(code == 1 for code, _ in reasons.values()), reasons
        assert "is not the attested digest" in reasons["wrong bytes"][1]
        assert "not 'prod'" in reasons["wrong env"][1]
        assert "does not verify" in reasons["tampered payload"][1]
        assert "unknown key" in reasons["unknown key"][1]
        assert "revocation list is not signed" in reasons["unsigned revocation list"][1]
        assert all(len(msg.splitlines()) == 1 and msg.startswith("refused: ") for _, msg in reasons.values())

    def test_an_independent_dsse_implementation_agrees_both_ways(
        self, signed: tuple[Path, Path, Path, Path]
    ) -> None:
        deploy, attestation, keys, model = signed
        script = deploy / "interop.py"
        script.write_text(INTEROP)
        theirs = run_offline([sys.executable, str(script), "verify", str(attestation), str(keys)], deploy)
        assert theirs.returncode == 0, theirs.stderr
        result = json.loads(theirs.stdout)
        assert result["env"] == {"signoff.dev/environment/v1": "dev"}
        assert result["keyids"] == [json.loads(keys.read_text())["active"]]
        made = run_offline([sys.executable, str(script), "sign", str(attestation), str(deploy / "theirs.json"),
                            str(deploy / "their-keys.json")], deploy)
        assert made.returncode == 0, made.stderr
        ours = self.verify(deploy, deploy / "theirs.json", model, "dev", deploy / "their-keys.json")
        assert ours.returncode == 0, ours.stderr
        refused = self.verify(deploy, deploy / "theirs.json", model, "dev", keys)
        assert refused.returncode == 1 and "unknown key" in refused.stderr
