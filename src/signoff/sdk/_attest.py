"""Offline checks of what signoff signs: DSSE envelopes, deployment attestations, checkpoints.

Needs no server and no database: a deploy job holds the public key set (`signoff keys
export-public`), the attestation and the bytes it is about to run, and asks whether they were
signed off for its environment. Only `cryptography` is needed beyond the SDK (imported when a
signature is checked).

DSSE v1 (secure-systems-lab/dsse, protocol.md): the signature covers
``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` where LEN is the ASCII
decimal byte length; base64 in envelopes may be standard or URL-safe, and verifiers accept both.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from signoff.errors import VerificationFailed

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
DEPLOYMENT_PREDICATE = "https://in-toto.io/attestation/deployment/v1"
# A custom deployment scope type must be a URI ending in its version (deployment predicate spec).
ENVIRONMENT_SCOPE = "signoff.dev/environment/v1"
CHECKPOINT_PAYLOAD_TYPE = "application/vnd.signoff.audit-checkpoint+json"
SIGNATURE_PAYLOAD_TYPE = "application/vnd.signoff.signature+json"
REVOCATIONS_PAYLOAD_TYPE = "application/vnd.signoff.revocations+json"
REVOCATION_LIST_TYPE = "signoff-revocation-list"


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of (payload type, serialized body)."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (DSSE verifiers must accept either)."""
    if not isinstance(text, str):
        raise VerificationFailed("base64 field is not a string")
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationFailed("envelope holds invalid base64") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_id(public_raw: bytes) -> str:
    """A key's id: SHA-256 of its raw 32-byte Ed25519 public key, hex."""
    return hashlib.sha256(public_raw).hexdigest()


def sign_envelope(payload_type: str, body: bytes, *, keyid: str, sign: Callable[[bytes], bytes]) -> dict[str, Any]:
    """A DSSE JSON envelope over body, signed by `sign` (an Ed25519 private key's sign)."""
    return {"payload": b64encode(body), "payloadType": payload_type,
            "signatures": [{"keyid": keyid, "sig": b64encode(sign(pae(payload_type, body)))}]}


@dataclass(frozen=True)
class PublicKey:
    """A published verification key and the interval in which it was allowed to sign."""

    keyid: str
    public: bytes
    not_before: datetime
    not_after: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        # The key dict of securesystemslib/TUF (keytype, scheme, keyval.public as hex), plus validity.
        return {"keyid": self.keyid, "keytype": "ed25519", "scheme": "ed25519",
                "keyval": {"public": self.public.hex()}, "not_before": _iso(self.not_before),
                "not_after": _iso(self.not_after) if self.not_after else None}

    def valid_at(self, at: datetime) -> bool:
        return self.not_before <= at and (self.not_after is None or at <= self.not_after)

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def parse_time(text: Any, what: str) -> datetime:
    if not isinstance(text, str):
        raise VerificationFailed(f"{what} is missing")
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise VerificationFailed(f"{what} is not an RFC 3339 time: {text!r}") from None
    if at.tzinfo is None:
        raise VerificationFailed(f"{what} has no UTC offset: {text!r}")
    return at


def load_keyset(source: dict[str, Any] | str | Path) -> list[PublicKey]:
    """The public keys of `signoff keys export-public` (a dict, JSON text or a file path)."""
    data: Any = source
    if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except OSError as exc:
            raise VerificationFailed(f"cannot read the key set {source}: {exc.strerror}") from None
        except ValueError:
            raise VerificationFailed(f"the key set {source} is not JSON") from None
    elif isinstance(source, str):
        try:
            data = json.loads(source)
        except ValueError:
            raise VerificationFailed("the key set is not JSON") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise VerificationFailed("the key set has no keys")
    out = []
    for entry in keys:
        try:
            if entry.get("keytype") != "ed25519" or entry.get("scheme") != "ed25519":
                continue  # only Ed25519 is signed with; other entries are not ours to trust
            public = bytes.fromhex(entry["keyval"]["public"])
            not_after = entry.get("not_after")
            out.append(PublicKey(
                keyid=str(entry["keyid"]), public=public,
                not_before=parse_time(entry.get("not_before"), "a key's not_before"),
                not_after=parse_time(not_after, "a key's not_after") if not_after else None))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise VerificationFailed("the key set holds a malformed key") from None
    if not out:
        raise VerificationFailed("the key set holds no Ed25519 key")
    return out


def open_envelope(envelope: dict[str, Any] | str | bytes, keys: Iterable[PublicKey],
                  payload_type: str) -> tuple[bytes, PublicKey]:
    """Check an envelope's signature against the trusted keys; returns (payload, signing key).

    The keyid is only a hint (DSSE): every trusted key is tried when it does not match one.
    """
    if isinstance(envelope, (str, bytes)):
        try:
            envelope = json.loads(envelope)
        except ValueError:
            raise VerificationFailed("the envelope is not JSON") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("signatures"), list):
        raise VerificationFailed("not a DSSE envelope (payload, payloadType, signatures)")
    kind = envelope.get("payloadType")
    if not isinstance(kind, str):
        raise VerificationFailed("the envelope has no payloadType")
    body = b64decode(envelope.get("payload", ""))
    message = pae(kind, body)
    trusted = list(keys)
    for sig in envelope["signatures"]:
        if not isinstance(sig, dict):
            continue
        signature = b64decode(sig.get("sig", ""))
        hinted = [k for k in trusted if k.keyid == sig.get("keyid")] or trusted
        for key in hinted:
            if key.verify(signature, message):
                if kind != payload_type:
                    raise VerificationFailed(f"payloadType is {kind!r}, expected {payload_type!r}")
                return body, key
    hints = sorted({str(s.get("keyid")) for s in envelope["signatures"] if isinstance(s, dict)})
    if not any(k.keyid in hints for k in trusted):
        raise VerificationFailed(f"signed by an unknown key ({', '.join(hints) or 'no key id'}); "
                                 "it is not in the trusted key set")
    raise VerificationFailed("the signature does not verify: the envelope was altered or signed by another key")


def _json_payload(body: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise VerificationFailed(f"the {what} is not JSON") from None
    if not isinstance(value, dict):
        raise VerificationFailed(f"the {what} is not a JSON object")
    return value


def artifact_sha256(artifact: bytes | str | Path, *, timeout: float = 60.0) -> str:
    """SHA-256 of the bytes: given, in a local file, or fetched from an http(s) URL."""
    digest = hashlib.sha256()
    if isinstance(artifact, bytes):
        digest.update(artifact)
        return digest.hexdigest()
    text = str(artifact)
    if text.startswith(("http://", "https://")):
        import httpx

        try:
            with httpx.stream("GET", text, timeout=timeout, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise VerificationFailed(f"cannot fetch the artifact {text}: HTTP {response.status_code}")
                for chunk in response.iter_bytes(1 << 20):
                    digest.update(chunk)
        except httpx.HTTPError as exc:
            raise VerificationFailed(f"cannot fetch the artifact {text}: {exc}") from None
        return digest.hexdigest()
    path = Path(text.removeprefix("file://"))
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise VerificationFailed(f"cannot read the artifact {path}: {exc.strerror}") from None
    return digest.hexdigest()


def verify_revocations(envelope: dict[str, Any] | str | bytes | Path,
                       keys: Iterable[PublicKey]) -> dict[str, Any]:
    """A signed revocation list (`signoff revocations`, `GET /api/v1/revocations`): checks the
    signature against the trusted keys and the key's validity when the list was issued; returns
    {type, issued_at, count, revocations}. Raises VerificationFailed.

    Only a signed list is accepted: a deploy job's copy could otherwise lose an entry on the way
    and let a revoked version through.
    """
    if isinstance(envelope, Path):
        try:
            envelope = envelope.read_text(encoding="utf-8")
        except OSError as exc:
            raise VerificationFailed(f"cannot read the revocation list {envelope}: {exc.strerror}") from None
    if isinstance(envelope, (str, bytes)):
        try:
            envelope = json.loads(envelope)
        except ValueError:
            raise VerificationFailed("the revocation list is not JSON") from None
    if not isinstance(envelope, dict) or "signatures" not in envelope or "payload" not in envelope:
        raise VerificationFailed("the revocation list is not signed (a DSSE envelope from `signoff revocations` "
                                 "or GET /api/v1/revocations is needed)")
    body, key = open_envelope(envelope, keys, REVOCATIONS_PAYLOAD_TYPE)
    listed = _json_payload(body, "revocation list")
    entries = listed.get("revocations")
    if listed.get("type") != REVOCATION_LIST_TYPE or not isinstance(entries, list) \
            or not all(isinstance(e, dict) for e in entries):
        raise VerificationFailed(f"not a revocation list (type {listed.get('type')!r})")
    if listed.get("count") != len(entries):
        raise VerificationFailed(f"the revocation list says {listed.get('count')} entries but holds {len(entries)}")
    issued = parse_time(listed.get("issued_at"), "the revocation list's issued_at")
    if not key.valid_at(issued):
        raise VerificationFailed(f"key {key.keyid[:16]} was not valid when the revocation list was issued "
                                 f"({_iso(issued)})")
    return listed


def load_revocations(source: Any, keys: Iterable[PublicKey]) -> list[dict[str, Any]]:
    """The entries of a signed revocation list (a file path, JSON text or the envelope dict)."""
    if isinstance(source, str) and not source.lstrip().startswith("{"):
        source = Path(source)
    entries: list[dict[str, Any]] = verify_revocations(source, keys)["revocations"]  # a list of objects: checked
    return entries


def _digest_value(value: Any) -> str:
    return str(value).removeprefix("sha256:").lower()


def verify_attestation(
    attestation: dict[str, Any] | str | bytes | Path,
    *,
    artifact: bytes | str | Path,
    env: str,
    keys: dict[str, Any] | str | Path | Iterable[PublicKey],
    revocations: Any = None,
) -> dict[str, Any]:
    """Check a deployment attestation offline; returns its statement, raises VerificationFailed.

    In order: the signature by a trusted key, that key's validity at the statement's creation
    time, the statement's type and predicate, the environment scope, the artifact's SHA-256
    against the subject, and that no entry of the signed revocation list (checked against the
    same keys) matches.
    """
    if isinstance(attestation, Path):
        try:
            attestation = attestation.read_text(encoding="utf-8")
        except OSError as exc:
            raise VerificationFailed(f"cannot read the attestation: {exc.strerror}") from None
    trusted = list(keys) if not isinstance(keys, (dict, str, Path)) else load_keyset(keys)
    body, key = open_envelope(attestation, trusted, IN_TOTO_PAYLOAD_TYPE)
    statement = _json_payload(body, "statement")
    if statement.get("_type") != STATEMENT_TYPE:
        raise VerificationFailed(f"not an in-toto Statement v1 (_type {statement.get('_type')!r})")
    if statement.get("predicateType") != DEPLOYMENT_PREDICATE:
        raise VerificationFailed(f"not a deployment attestation (predicateType {statement.get('predicateType')!r})")
    predicate = statement.get("predicate") or {}
    created = parse_time(predicate.get("creationTime"), "creationTime")
    if not key.valid_at(created):
        raise VerificationFailed(f"key {key.keyid[:16]} was not valid at {_iso(created)} "
                                 f"(valid {_iso(key.not_before)} to {_iso(key.not_after) if key.not_after else 'now'})")
    scopes = predicate.get("scopes") or {}
    unknown = sorted(set(scopes) - {ENVIRONMENT_SCOPE})
    if unknown:  # the predicate's parsing rules: refuse scope types not understood
        raise VerificationFailed(f"unknown scope type {unknown[0]!r}")
    if scopes.get(ENVIRONMENT_SCOPE) != env:
        raise VerificationFailed(f"attested for environment {scopes.get(ENVIRONMENT_SCOPE)!r}, not {env!r}")
    decision_evidence(predicate)
    subjects = statement.get("subject") or []
    wanted = {_digest_value((s.get("digest") or {}).get("sha256")) for s in subjects if isinstance(s, dict)}
    actual = artifact_sha256(artifact)
    if actual not in wanted:
        raise VerificationFailed(f"the artifact's SHA-256 {actual} is not the attested digest "
                                 f"{', '.join(sorted(wanted)) or '(none)'}")
    if revocations is not None:
        facts = {"env": env, "digest": actual, **_subject_facts(subjects)}
        for entry in load_revocations(revocations, trusted):
            given = {k: v for k, v in entry.items() if k in ("model", "version", "env", "digest")}
            if given and all(_same(k, v, facts.get(k)) for k, v in given.items()):
                raise VerificationFailed(f"revoked: {entry.get('model')} version {entry.get('version')} in "
                                         f"{entry.get('env')} at {entry.get('revoked_at')} by {entry.get('revoked_by')}"
                                         f" ({entry.get('reason')})")
    return statement


def decision_evidence(predicate: dict[str, Any]) -> list[dict[str, Any]]:
    """The decision descriptors of a deployment predicate, each checked for its evidence form:
    form 2 lists {signer, meaning, evidence_sha256} per approving signer and its digest is the
    hash of that list; form 1 (older attestations, no `evidence_version`) carries one hash of the
    request's evidence. Raises VerificationFailed."""
    from signoff.domain.events import canonical_json

    found = (predicate.get("decisionDetails") or {}).get("evidence") or []
    if not isinstance(found, list):
        raise VerificationFailed("decisionDetails.evidence is not a list")
    for descriptor in found:
        notes = descriptor.get("annotations") if isinstance(descriptor, dict) else None
        if not isinstance(notes, dict):
            raise VerificationFailed("a decision descriptor has no annotations")
        form = notes.get("evidence_version", 1)
        if form == 1:
            continue
        if form != 2:
            raise VerificationFailed(f"unknown evidence form {form!r} in the decision (this verifier knows 1 and 2)")
        signers = notes.get("signers")
        if not isinstance(signers, list) or not all(
                isinstance(s, dict) and isinstance(s.get("signer"), str) and isinstance(s.get("evidence_sha256"), str)
                and len(s["evidence_sha256"]) == 64 and isinstance(s.get("meaning"), (str, type(None)))
                for s in signers):
            raise VerificationFailed("the decision's signers are not a list of {signer, meaning, evidence_sha256}")
        digest = (descriptor.get("digest") or {}).get("sha256")
        if signers and digest != hashlib.sha256(canonical_json(signers).encode("utf-8")).hexdigest():
            raise VerificationFailed("the decision's signers do not match the decision's digest")
    return found


def _subject_facts(subjects: list[Any]) -> dict[str, Any]:
    for subject in subjects:
        notes = subject.get("annotations") if isinstance(subject, dict) else None
        if isinstance(notes, dict) and "model" in notes:
            return {"model": notes.get("model"), "version": notes.get("version")}
    return {}


def _same(key: str, given: Any, actual: Any) -> bool:
    if key == "digest":
        return bool(_digest_value(given) == actual)
    if key == "version":
        return str(given) == str(actual)
    return bool(given == actual)


def verify_checkpoint(envelope: dict[str, Any] | str | bytes, keys: Iterable[PublicKey]) -> dict[str, Any]:
    """A signed audit checkpoint's content {count, head_id, head_hash, time}; raises VerificationFailed."""
    body, key = open_envelope(envelope, keys, CHECKPOINT_PAYLOAD_TYPE)
    checkpoint = _json_payload(body, "checkpoint")
    for field in ("count", "head_hash", "time"):
        if field not in checkpoint:
            raise VerificationFailed(f"the checkpoint has no {field}")
    at = parse_time(checkpoint["time"], "the checkpoint's time")
    if not key.valid_at(at):
        raise VerificationFailed(f"key {key.keyid[:16]} was not valid at the checkpoint's time {_iso(at)}")
    return checkpoint
