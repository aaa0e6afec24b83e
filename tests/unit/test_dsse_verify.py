"""DSSE envelopes and the offline attestation verifier: exact PAE, signature, key validity, scope,
digest and revocation, each refusal with its reason."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from signoff import VerificationFailed, verify_attestation
from signoff.domain.attestations import deployment_statement
from signoff.domain.events import canonical_json
from signoff.sdk._attest import (
    IN_TOTO_PAYLOAD_TYPE,
    REVOCATIONS_PAYLOAD_TYPE,
    PublicKey,
    key_id,
    open_envelope,
    pae,
    sign_envelope,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ARTIFACT = b"model bytes"


class Signer:
    def __init__(self, not_before: datetime = T0 - timedelta(days=1), not_after: datetime | None = None) -> None:
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = PublicKey(key_id(raw), raw, not_before, not_after)

    def keyset(self) -> dict[str, Any]:
        return {"keys": [self.public.to_dict()]}

    def attest(self, *, env: str = "prod", data: bytes = ARTIFACT, at: datetime = T0, **changes: Any) -> dict[str, Any]:
        statement = deployment_statement(
            model="churn", version=3, artifact_uri="s3://b/churn-3.pkl", digest=hashlib.sha256(data).hexdigest(),
            env=env, created_at=at, change="approval", request_id=7, parameter="/signoff/models/churn/prod",
            parameter_version=2, approvers=[{"user": "paula"}], policy={"env": env}, evidence_sha256="ab" * 32)
        statement.update(changes)
        return sign_envelope(IN_TOTO_PAYLOAD_TYPE, canonical_json(statement).encode(), keyid=self.public.keyid,
                             sign=self.private.sign)

    def revocations(self, entries: list[dict[str, Any]], *, at: datetime = T0, **changes: Any) -> dict[str, Any]:
        listed = {"type": "signoff-revocation-list", "issued_at": at.isoformat().replace("+00:00", "Z"),
                  "count": len(entries), "revocations": entries, **changes}
        return sign_envelope(REVOCATIONS_PAYLOAD_TYPE, canonical_json(listed).encode(), keyid=self.public.keyid,
                             sign=self.private.sign)


class TestPreAuthenticationEncoding:
    def test_matches_the_dsse_specification_example(self) -> None:
        assert pae("http://example.com/HelloWorld", b"hello world") == \
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"

    def test_lengths_are_byte_lengths_of_the_utf8_encoding(self) -> None:
        assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"
        assert pae("", b"") == b"DSSEv1 0  0 "


class TestEnvelope:
    def test_a_signed_envelope_opens_with_its_key(self) -> None:
        signer = Signer()
        envelope = sign_envelope("application/x-test", b"payload", keyid=signer.public.keyid, sign=signer.private.sign)
        body, key = open_envelope(envelope, [signer.public], "application/x-test")
        assert body == b"payload" and key == signer.public

    def test_url_safe_base64_is_accepted(self) -> None:
        signer = Signer()
        envelope = signer.attest()
        envelope["payload"] = base64.urlsafe_b64encode(base64.b64decode(envelope["payload"])).decode().rstrip("=")
        sig = envelope["signatures"][0]
        sig["sig"] = base64.urlsafe_b64encode(base64.b64decode(sig["sig"])).decode()
        assert verify_attestation(envelope, artifact=ARTIFACT, env="prod", keys=signer.keyset())

    def test_the_keyid_is_only_a_hint(self) -> None:
        signer = Signer()
        envelope = signer.attest()
        envelope["signatures"][0]["keyid"] = "someone-else"
        assert verify_attestation(envelope, artifact=ARTIFACT, env="prod", keys=[signer.public])


class TestAttestationVerification:
    def test_the_right_bytes_for_the_right_environment_verify(self) -> None:
        signer = Signer()
        statement = verify_attestation(json.dumps(signer.attest()), artifact=ARTIFACT, env="prod",
                                       keys=json.dumps(signer.keyset()))
        assert statement["predicate"]["scopes"] == {"signoff.dev/environment/v1": "prod"}

    def refuse(self, envelope: Any, keys: Any, **kw: Any) -> str:
        with pytest.raises(VerificationFailed) as exc:
            verify_attestation(envelope, keys=keys, **{"artifact": ARTIFACT, "env": "prod", **kw})
        return exc.value.message

    def test_other_bytes_are_refused(self) -> None:
        signer = Signer()
        assert "is not the attested digest" in self.refuse(signer.attest(), signer.keyset(), artifact=b"other bytes")

    def test_another_environment_is_refused(self) -> None:
        signer = Signer()
        assert "attested for environment 'uat', not 'prod'" in self.refuse(signer.attest(env="uat"), signer.keyset())

    def test_a_tampered_payload_is_refused(self) -> None:
        signer = Signer()
        envelope = signer.attest(env="uat")
        statement = json.loads(base64.b64decode(envelope["payload"]))
        statement["predicate"]["scopes"]["signoff.dev/environment/v1"] = "prod"
        envelope["payload"] = base64.b64encode(canonical_json(statement).encode()).decode()
        assert "does not verify" in self.refuse(envelope, signer.keyset())

    def test_a_changed_payload_type_is_refused(self) -> None:
        signer = Signer()
        envelope = signer.attest()
        envelope["payloadType"] = "application/json"
        assert "does not verify" in self.refuse(envelope, signer.keyset())

    def test_an_unknown_key_is_refused(self) -> None:
        signer, stranger = Signer(), Signer()
        assert "unknown key" in self.refuse(signer.attest(), stranger.keyset())

    def test_a_key_used_outside_its_validity_is_refused(self) -> None:
        retired = Signer(not_before=T0 - timedelta(days=30), not_after=T0 - timedelta(days=1))
        assert "was not valid at" in self.refuse(retired.attest(), retired.keyset())
        young = Signer(not_before=T0 + timedelta(seconds=1))
        assert "was not valid at" in self.refuse(young.attest(), young.keyset())

    def test_an_unknown_scope_type_is_refused(self) -> None:
        signer = Signer()
        envelope = signer.attest()
        statement = json.loads(base64.b64decode(envelope["payload"]))
        statement["predicate"]["scopes"]["kubernetes.io/pod/cluster_id/v1"] = "c1"
        envelope = sign_envelope(IN_TOTO_PAYLOAD_TYPE, canonical_json(statement).encode(), keyid=signer.public.keyid,
                                 sign=signer.private.sign)
        assert "unknown scope type" in self.refuse(envelope, signer.keyset())

    def test_another_predicate_is_refused(self) -> None:
        signer = Signer()
        envelope = signer.attest(predicateType="https://slsa.dev/provenance/v1")
        assert "not a deployment attestation" in self.refuse(envelope, signer.keyset())

    def test_a_matching_revocation_refuses_and_others_do_not(self) -> None:
        signer = Signer()
        envelope = signer.attest()
        digest = hashlib.sha256(ARTIFACT).hexdigest()
        assert "revoked" in self.refuse(envelope, signer.keyset(),
                                        revocations=signer.revocations([{"model": "churn", "version": 3, "env": "prod"}]))
        assert "revoked" in self.refuse(envelope, signer.keyset(),
                                        revocations=signer.revocations([{"digest": f"sha256:{digest}"}]))
        assert verify_attestation(envelope, artifact=ARTIFACT, env="prod", keys=signer.keyset(), revocations=signer.revocations(
            [{"model": "churn", "version": 2}, {"env": "uat", "digest": digest}]))

    def test_a_revocation_list_is_trusted_only_when_signed_by_a_trusted_key_then_valid(self) -> None:
        signer, stranger = Signer(), Signer()
        envelope = signer.attest()
        entry = [{"model": "churn", "version": 3, "env": "prod"}]
        assert "not signed" in self.refuse(envelope, signer.keyset(), revocations=entry)
        assert "not signed" in self.refuse(envelope, signer.keyset(), revocations={"revocations": entry})
        assert "unknown key" in self.refuse(envelope, signer.keyset(), revocations=stranger.revocations(entry))
        listed = signer.revocations(entry)
        emptied = {**listed, "payload": base64.b64encode(canonical_json(
            {"type": "signoff-revocation-list", "issued_at": "2026-11-25T12:00:00Z", "count": 0,
             "revocations": []}).encode()).decode()}
        assert "does not verify" in self.refuse(envelope, signer.keyset(), revocations=emptied)
        assert "says 2 entries but holds 1" in self.refuse(envelope, signer.keyset(),
                                                            revocations=signer.revocations(entry, count=2))
        assert "not valid when the revocation list was issued" in self.refuse(
            envelope, signer.keyset(), revocations=signer.revocations(entry, at=T0 - timedelta(days=3)))
        other = sign_envelope(IN_TOTO_PAYLOAD_TYPE, base64.b64decode(listed["payload"]), keyid=signer.public.keyid,
                              sign=signer.private.sign)
        assert "payloadType" in self.refuse(envelope, signer.keyset(), revocations=other)

    def test_malformed_input_is_refused_with_a_reason(self) -> None:
        signer = Signer()
        assert "not JSON" in self.refuse("{nope", signer.keyset())
        assert "not a DSSE envelope" in self.refuse({"payload": "x"}, signer.keyset())
        assert "no keys" in self.refuse(signer.attest(), {"keys": []})
