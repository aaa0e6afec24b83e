"""Electronic signatures: a decision where the policy says `signature = "reauth"` needs fresh
authentication (a password checked again by the account's provider, or a sign-in moments old),
records a meaning and a signed record in the chain, and repeated failures lock signing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from signoff.adapters.db.tables import SignatureRow
from signoff.adapters.identity import directory_for
from signoff.bootstrap import Context, bootstrap
from signoff.errors import ReauthRequired
from signoff.sdk._embedded import EmbeddedClient
from signoff.services.ports import FixedClock
from tests.conftest import DIGEST, USERS, make_settings, unique
from tests.e2e.conftest import Api, error_of
from tests.fixtures.directory import ldap_config
from tests.fixtures.servers import SlapdServer
from tests.integration.test_cli import Cli

V1 = "/api/v1"
MEANINGS = ["Approved for release to dev", "Approved for release to dev under deviation DV-12"]
PASSWORDS = {"rita": "rita-signs-123", "ron": "ron-signs-456"}
ENVS = {"order": ["dev", "prod"], "dev": {"approvers": ["ml-reviewers"], "signature": "reauth", "meanings": MEANINGS},
        "prod": {"approvers": ["ml-reviewers"]}}


def users_with_passwords() -> dict[str, Any]:
    users: dict[str, Any] = {name: dict(spec) for name, spec in USERS.items()}
    for name, password in PASSWORDS.items():
        users[name]["password"] = password
    return users


@pytest.fixture
def signing_ctx(tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    ctx = bootstrap(make_settings(tmp_path, users=users_with_passwords(), environments=ENVS), clock=clock)
    yield ctx
    ctx.close()


@pytest.fixture
def api(signing_ctx: Context) -> Iterator[Api]:
    harness = Api(signing_ctx)
    yield harness
    harness.http.close()


def open_request(ctx: Context, tmp_path: Path) -> tuple[str, int]:
    name = unique()
    artifact = tmp_path / f"{name}.bin"
    artifact.write_bytes(os.urandom(32))
    EmbeddedClient(actor="dana", context=ctx).register(name, str(artifact))
    return name, int(EmbeddedClient(actor="rita", context=ctx).requests(model=name)[0]["id"])


def decide(api: Api, request_id: int, headers: dict[str, str], **body: Any) -> Any:
    return api.http.post(f"{V1}/approval-requests/{request_id}/decisions",
                         json={"decision": "approve", **body}, headers=headers)


class TestLocalAccounts:
    def test_a_long_lived_token_alone_is_refused_and_nothing_is_written(self, api: Api, signing_ctx: Context,
                                                                         tmp_path: Path) -> None:
        _, request_id = open_request(signing_ctx, tmp_path)
        headers = api.auth("rita")
        before = api.counts()
        r = decide(api, request_id, headers, meaning=MEANINGS[0])
        assert r.status_code == 401 and error_of(r)["code"] == "reauth_required"
        assert api.counts() == before
        assert api.http.get(f"{V1}/approval-requests/{request_id}", headers=api.auth("rita")).json()["decisions"] == []

    def test_with_the_password_the_decision_is_signed_with_its_meaning(self, api: Api, signing_ctx: Context,
                                                                        tmp_path: Path) -> None:
        name, request_id = open_request(signing_ctx, tmp_path)
        r = decide(api, request_id, api.auth("rita"), password=PASSWORDS["rita"], meaning=MEANINGS[1])
        assert r.status_code == 201, r.text
        [signature] = r.json()["signatures"]
        assert signature["meaning"] == MEANINGS[1] and signature["full_name"] == "rita" and signature["user"] == "rita"
        assert signature["signed_at"] == "2026-11-25T12:00:00Z" and signature["auth_method"] == "password:local"
        shown = api.http.get(f"{V1}/approval-requests/{request_id}", headers=api.auth("dana")).json()
        assert shown["signatures"] == r.json()["signatures"]
        # The signature binds the evidence frozen with rita's own decision: what she was shown.
        from signoff.domain.attestations import evidence_hash

        [frozen] = [d["evidence"] for d in shown["decisions"] if d["actor"] == "rita"]
        assert frozen and signature["evidence_sha256"] == evidence_hash(frozen)
        rita = EmbeddedClient(actor="rita", context=signing_ctx)
        report = rita.verify_audit()
        assert report["ok"], report["problems"]
        [attestation] = rita.attestations(name, 1, env="dev")
        import base64

        statement = json.loads(base64.b64decode(attestation.envelope["payload"]))
        [approver] = statement["predicate"]["decisionDetails"]["evidence"][0]["annotations"]["approvers"]
        assert approver == {"user": "rita", "meaning": MEANINGS[1], "signed_at": "2026-11-25T12:00:00Z",
                            "full_name": "rita"}

    def test_the_meaning_must_be_chosen_when_several_are_offered(self, api: Api, signing_ctx: Context,
                                                                 tmp_path: Path) -> None:
        _, request_id = open_request(signing_ctx, tmp_path)
        r = decide(api, request_id, api.auth("rita"), password=PASSWORDS["rita"])
        assert r.status_code == 400 and error_of(r)["details"]["meanings"] == MEANINGS
        r = decide(api, request_id, api.auth("rita"), password=PASSWORDS["rita"], meaning="whatever")
        assert r.status_code == 400

    def test_a_fresh_sign_in_signs_and_an_old_one_does_not(self, api: Api, signing_ctx: Context, tmp_path: Path,
                                                           clock: FixedClock) -> None:
        _, first = open_request(signing_ctx, tmp_path)
        _, second = open_request(signing_ctx, tmp_path)
        session = api.http.post(f"{V1}/sessions", json={"username": "rita", "password": PASSWORDS["rita"]})
        headers = {"Authorization": f"Bearer {session.json()['token']}"}
        r = decide(api, first, headers, meaning=MEANINGS[0])
        assert r.status_code == 201, r.text
        assert r.json()["signatures"][0]["auth_method"] == "session:local"
        clock.advance(seconds=121)
        r = decide(api, second, headers, meaning=MEANINGS[0])
        assert r.status_code == 401 and error_of(r)["code"] == "reauth_required"

    def test_environments_without_signatures_decide_as_before(self, api: Api, signing_ctx: Context,
                                                              tmp_path: Path) -> None:
        name, request_id = open_request(signing_ctx, tmp_path)
        assert decide(api, request_id, api.auth("rita"), password=PASSWORDS["rita"], meaning=MEANINGS[0]).status_code == 201
        prod = EmbeddedClient(actor="dana", context=signing_ctx).request_promotion(name, 1, "prod")
        session = api.http.post(f"{V1}/sessions", json={"username": "ron", "password": PASSWORDS["ron"]})
        r = decide(api, int(prod["id"]), {"Authorization": f"Bearer {session.json()['token']}"})
        # A sign-in moments ago is not a signature where the policy asks for none.
        assert r.status_code == 201 and r.json()["signatures"] == [] and r.json()["state"] == "approved"

    def test_part11_makes_every_environment_sign(self, tmp_path: Path, clock: FixedClock) -> None:
        plain = {"order": ["dev"], "dev": {"approvers": ["ml-reviewers"]}}
        ctx = bootstrap(make_settings(tmp_path, users=users_with_passwords(), environments=plain,
                                      signing={"part11": True}), clock=clock)
        try:
            assert ctx.workflow.policy("dev").signature == "reauth"
            _, request_id = open_request(ctx, tmp_path)
            harness = Api(ctx)
            assert decide(harness, request_id, harness.auth("rita")).status_code == 401
            r = decide(harness, request_id, harness.auth("rita"), password=PASSWORDS["rita"])
            assert r.status_code == 201 and r.json()["signatures"][0]["meaning"] == "Approved for release to dev"
            harness.http.close()
        finally:
            ctx.close()


class TestSigningLock:
    def test_repeated_wrong_passwords_lock_signing_and_say_so(self, api: Api, signing_ctx: Context,
                                                              tmp_path: Path, clock: FixedClock) -> None:
        _, request_id = open_request(signing_ctx, tmp_path)
        headers = api.auth("rita")
        for _ in range(5):
            r = decide(api, request_id, headers, password="guess", meaning=MEANINGS[0])
            assert r.status_code == 401 and "not right" in error_of(r)["message"]
        r = decide(api, request_id, headers, password=PASSWORDS["rita"], meaning=MEANINGS[0])
        assert r.status_code == 401 and "signing is locked for rita" in error_of(r)["message"]
        rita = EmbeddedClient(actor="rita", context=signing_ctx)
        [locked] = [e.event["data"] for e in rita.events(type="signoff.auth.signing_locked")]
        assert locked["user"] == "rita" and locked["failures"] == 5
        clock.advance(minutes=16)
        assert decide(api, request_id, headers, password=PASSWORDS["rita"], meaning=MEANINGS[0]).status_code == 201


class TestTamperedSignatures:
    def signed(self, api: Api, ctx: Context, tmp_path: Path) -> tuple[int, int]:
        _, first = open_request(ctx, tmp_path)
        _, second = open_request(ctx, tmp_path)
        for request_id in (first, second):
            assert decide(api, request_id, api.auth("rita"), password=PASSWORDS["rita"],
                          meaning=MEANINGS[0]).status_code == 201
        return first, second

    def problems(self, ctx: Context) -> list[str]:
        report = EmbeddedClient(actor="rita", context=ctx).verify_audit()
        return [p["message"] for p in report["problems"] if p["check"] == "signature"]

    def test_an_edited_signed_field_is_named(self, api: Api, signing_ctx: Context, tmp_path: Path) -> None:
        first, _ = self.signed(api, signing_ctx, tmp_path)
        with signing_ctx.session_factory() as session:
            row = session.query(SignatureRow).filter_by(request_id=first).one()
            record = dict(row.record)
            record["meaning"] = MEANINGS[1]
            session.execute(update(SignatureRow).where(SignatureRow.id == row.id)
                            .values(record=record, meaning=MEANINGS[1]))
            session.commit()
        found = self.problems(signing_ctx)
        assert any("signed field(s) meaning were edited" in m for m in found), found

    def test_a_signature_moved_to_another_request_is_named(self, api: Api, signing_ctx: Context,
                                                          tmp_path: Path) -> None:
        first, _ = self.signed(api, signing_ctx, tmp_path)
        _, unsigned = open_request(signing_ctx, tmp_path)
        with signing_ctx.engine.begin() as conn:
            conn.execute(update(SignatureRow).where(SignatureRow.request_id == first).values(request_id=unsigned))
        found = self.problems(signing_ctx)
        assert any(f"on request {unsigned}) was moved or altered: it signs request {first}" in m for m in found), found


@pytest.fixture
def ldap_signing_ctx(tmp_path: Path, slapd_server: SlapdServer, clock: FixedClock) -> Iterator[Context]:
    envs = {"order": ["dev", "prod"], "dev": {"approvers": ["ml-reviewers"]},
            "prod": {"approvers": ["ml-leads", "risk-office"], "quorum": "each-group", "signature": "reauth"}}
    settings = make_settings(tmp_path, environments=envs, auth={"providers": ["ldap", "local"], "membership_ttl": "1s",
                                                                 "ldap": ldap_config(slapd_server)})
    ctx = bootstrap(settings, clock=clock)
    yield ctx
    directory_for(ctx).close()
    ctx.close()


class TestDirectoryAccounts:
    def test_an_ldap_user_is_rebound_and_a_wrong_password_refused(self, ldap_signing_ctx: Context,
                                                                  tmp_path: Path) -> None:
        ctx = ldap_signing_ctx
        name = unique()
        with EmbeddedClient(actor="dana", context=ctx) as dana:
            dana.register(name, f"s3://b/{name}.pkl", digest=DIGEST)
            EmbeddedClient(actor="rita", context=ctx).approve(name, 1, "dev")
            request_id = int(dana.request_promotion(name, 1, "prod")["id"])
        harness = Api(ctx)
        try:
            session = harness.http.post(f"{V1}/sessions", json={"username": "carol", "password": "carol-password"})
            assert session.status_code == 201, session.text
            headers = {"Authorization": f"Bearer {session.json()['token']}"}
            ctx.clock.advance(seconds=300)  # type: ignore[attr-defined]
            before = harness.counts()
            r = decide(harness, request_id, headers)
            assert r.status_code == 401 and error_of(r)["code"] == "reauth_required" and harness.counts() == before
            r = decide(harness, request_id, headers, password="not-carols")
            assert r.status_code == 401 and "not right" in error_of(r)["message"]
            r = decide(harness, request_id, headers, password="carol-password")
            assert r.status_code == 201, r.text
            [signature] = r.json()["signatures"]
            assert signature["auth_method"] == "password:ldap" and signature["meaning"] == "Approved for release to prod"
        finally:
            harness.http.close()


class TestTheOtherDoors:
    def test_the_embedded_sdk_signs_with_the_password(self, signing_ctx: Context, tmp_path: Path) -> None:
        _, request_id = open_request(signing_ctx, tmp_path)
        rita = EmbeddedClient(actor="rita", context=signing_ctx)
        with pytest.raises(ReauthRequired):
            rita.decide(request_id, "approve", meaning=MEANINGS[0])
        signed = rita.decide(request_id, "approve", password=PASSWORDS["rita"], meaning=MEANINGS[0])
        assert signed["signatures"][0]["meaning"] == MEANINGS[0] and rita.request(request_id)["signatures"]

    def test_the_cli_prompts_for_the_password(self, tmp_path: Path) -> None:
        cli = Cli(tmp_path)
        config = tmp_path / "signoff.toml"
        text = config.read_text()
        text = text.replace('[environments.dev]\napprovers = ["ml-reviewers"]',
                            '[environments.dev]\napprovers = ["ml-reviewers"]\nsignature = "reauth"')
        text = text.replace('[users.rita]\ngroups = ["ml-reviewers"]',
                            '[users.rita]\ngroups = ["ml-reviewers"]\npassword = "rita-cli-pass"')
        config.write_text(text)
        assert cli("register", "churn", "--artifact", "s3://b/churn.pkl", "--digest", DIGEST,
                   "--as", "dana").returncode == 0
        unsigned = cli("approve", "churn", "1", "--env", "dev", "--as", "rita")
        assert unsigned.returncode == 6 and "electronic signatures" in unsigned.stderr
        signed = subprocess.run([sys.executable, "-m", "signoff.entrypoints.cli", "approve", "churn", "1", "--env", "dev",
                                 "--as", "rita", "--sign", "--json"], input="rita-cli-pass\n", capture_output=True,
                                text=True, env=cli.env, cwd=cli.cwd, timeout=60)
        assert signed.returncode == 0, signed.stderr
        assert json.loads(signed.stdout)["signatures"][0]["meaning"] == "Approved for release to dev"
