"""Electronic signatures on decisions (21 CFR Part 11 §11.50, §11.70, §11.200, §11.300).

Where an environment's policy says `signature = "reauth"`, a decision is signed: the signer
authenticated again just before (a password checked by the provider that owns the account, a
sign-in at most `[signing] reauth_seconds` old, or an OIDC ID token whose `auth_time` is that
recent), and picked the meaning of the signature. The record (who by name and id, when in UTC,
how and when authenticated, what it means, the request, version, environment, digest and the
hash of the evidence shown) is canonical JSON signed with the server key, stored, and written
into the audit chain, all in the decision's transaction. Repeated failed re-authentications
lock signing for the user and emit `signoff.auth.signing_locked`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from signoff.domain import events
from signoff.domain.attestations import evidence_hash, rfc3339
from signoff.domain.events import canonical_json
from signoff.domain.workflow import Policy
from signoff.errors import AuthenticationFailed, InvalidInput, ReauthRequired
from signoff.sdk._attest import SIGNATURE_PAYLOAD_TYPE
from signoff.services.ports import UnitOfWork

SIGNING_LOCKED = "signoff.auth.signing_locked"
RECORD_TYPE = "signoff-electronic-signature/v1"
SIGNED = "signature.signed"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SigningRules:
    """`[signing]` as the services need it."""

    reauth_seconds: int = 120
    lock_after: int = 5
    lock_seconds: int = 900

    @classmethod
    def of(cls, signing: Any) -> SigningRules:
        """From `[signing]` (config.SigningSettings)."""
        return cls(signing.reauth_seconds, signing.lock_after, signing.lock_seconds)


@dataclass(frozen=True)
class Reauthentication:
    """Proof that `user` authenticated at `auth_time` by `method`, and the meaning they chose."""

    user: str
    method: str  # password:local | password:ldap | session:<provider> | oidc
    auth_time: datetime
    max_age: int
    meaning: str | None = None


def default_meaning(verdict: str, env: str) -> str:
    return f"Approved for release to {env}" if verdict == "approve" else f"Rejected for release to {env}"


def choose_meaning(policy: Policy, verdict: str, chosen: str | None) -> str:
    """The meaning of this signature: one of the policy's `meanings` for an approval; raises InvalidInput."""
    if verdict != "approve" or not policy.meanings:
        if chosen and chosen != default_meaning(verdict, policy.env) and chosen not in policy.meanings:
            raise InvalidInput(f"meaning {chosen!r} is not one of {[default_meaning(verdict, policy.env)]}",
                               details={"field": "meaning"})
        return default_meaning(verdict, policy.env)
    if chosen is None:
        if len(policy.meanings) == 1:
            return policy.meanings[0]
        raise InvalidInput(f"choose the meaning of your signature: one of {list(policy.meanings)}",
                           details={"field": "meaning", "meanings": list(policy.meanings)})
    if chosen not in policy.meanings:
        raise InvalidInput(f"meaning {chosen!r} is not one of {list(policy.meanings)}",
                           details={"field": "meaning", "meanings": list(policy.meanings)})
    return chosen


def locked_until(uow: UnitOfWork, user: str, rules: SigningRules) -> datetime | None:
    """When signing unlocks for `user`, or None if it is not locked (inside the caller's `with uow`)."""
    now = uow.clock.now()
    window = timedelta(seconds=rules.lock_seconds)
    failures = uow.signatures.failures_since(user, now - window)
    if len(failures) < rules.lock_after:
        return None  # the usual case: one query
    # A successful signature since then resets the count (it needed a correct password).
    since = uow.signatures.last_signed_at(user) or _EPOCH
    failures = [f for f in failures if f > since]
    if len(failures) >= rules.lock_after and failures[-1] + window > now:
        return failures[-1] + window
    return None


def _refuse_if_locked(uow: UnitOfWork, user: str, rules: SigningRules) -> None:
    until = locked_until(uow, user, rules)
    if until is not None:
        raise ReauthRequired(f"signing is locked for {user} until {rfc3339(until)} after repeated failed "
                             "re-authentication", details={"user": user, "locked_until": rfc3339(until)})


def record_failure(*, uow: UnitOfWork, user: str, method: str, rules: SigningRules) -> None:
    """Count a failed re-authentication (its own transaction); the one that reaches the limit locks."""
    with uow:
        now = uow.clock.now()
        uow.signatures.add_failure(user, now, method)
        until = locked_until(uow, user, rules)
        count = len(uow.signatures.failures_since(user, now - timedelta(seconds=rules.lock_seconds)))
        if until is not None and count == rules.lock_after:
            data = {"user": user, "failures": count, "locked_until": rfc3339(until), "method": method}
            uow.record(actor=user, action="auth.signing_locked", subject=f"users/{user}", model=None, after=data)
            uow.emit(events.Event(SIGNING_LOCKED, f"users/{user}", data))
        uow.commit()


def reauthenticate_password(*, uow_factory: Any, directory: Any, user: str, password: str, rules: SigningRules,
                            meaning: str | None = None) -> Reauthentication:
    """Check `user`'s password again with the provider that owns the account (LDAP: a fresh bind).

    Raises ReauthRequired (wrong password, counted; or signing locked), ServiceUnavailable.
    """
    from signoff.services import identity

    with uow_factory() as uow:
        _refuse_if_locked(uow, user, rules)
        now = uow.clock.now()
    try:
        who = identity.sign_in(uow=uow_factory(), directory=directory, username=user, password=password)
        if who.name != user:
            raise AuthenticationFailed("the password belongs to another account")
    except AuthenticationFailed:
        record_failure(uow=uow_factory(), user=user, method="password", rules=rules)
        raise ReauthRequired("re-authentication failed: the password is not right for this account",
                             details={"user": user}) from None
    return Reauthentication(user, f"password:{who.provider}", now, rules.reauth_seconds, meaning)


def from_sign_in(*, user: str, signed_in_at: datetime, via: str, now: datetime, rules: SigningRules,
                 meaning: str | None = None) -> Reauthentication | None:
    """A full sign-in recent enough to count as re-authentication, else None."""
    if timedelta(0) <= now - signed_in_at <= timedelta(seconds=rules.reauth_seconds):
        return Reauthentication(user, f"session:{via}", signed_in_at, rules.reauth_seconds, meaning)
    return None


def from_oidc(*, user: str, claims: dict[str, Any], now: datetime, rules: SigningRules,
              meaning: str | None = None) -> Reauthentication:
    """An ID token from a `max_age=0` request: its `auth_time` must be recent (`prompt=login` alone
    proves nothing the server can check). Raises ReauthRequired."""
    auth_time = claims.get("auth_time")
    if not isinstance(auth_time, (int, float)):
        raise ReauthRequired("the identity provider did not say when you authenticated (no auth_time)")
    at = datetime.fromtimestamp(auth_time, UTC)
    if now - at > timedelta(seconds=rules.reauth_seconds) or at - now > timedelta(seconds=60):
        raise ReauthRequired(f"the identity provider's authentication is from {rfc3339(at)}, not within "
                             f"{rules.reauth_seconds} s: authenticate again", details={"auth_time": rfc3339(at)})
    return Reauthentication(user, "oidc", at, rules.reauth_seconds, meaning)


def sign_decision(uow: UnitOfWork, *, policy: Policy, request_row: Any, model: str, version: int, verdict: str,
                  actor: str, reauth: Reauthentication | None, rules: SigningRules | None = None,
                  evidence: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Inside the decision's transaction: refuse an unsigned decision where the policy asks for a
    signature, else sign, store and chain the record. Raises ReauthRequired, InvalidInput.

    `evidence` is the snapshot frozen with this decision (what this signer was shown); the
    signature binds its hash, so a signer is never bound to evidence someone else saw."""
    if reauth is None:
        if policy.signature == "reauth":
            raise ReauthRequired(
                f"decisions in {policy.env} are electronic signatures: authenticate again (your password, or "
                "a sign-in made moments ago) to sign", details={"env": policy.env})
        return None
    if policy.signature != "reauth" and reauth.method.startswith("session:"):
        return None  # a recent sign-in is not a wish to sign where the policy asks for no signature
    now = uow.clock.now()
    if reauth.user != actor:
        raise ReauthRequired("the re-authentication is not the decider's", details={"user": actor})
    if now - reauth.auth_time > timedelta(seconds=reauth.max_age):
        raise ReauthRequired(f"your authentication is more than {reauth.max_age} s old: authenticate again")
    _refuse_if_locked(uow, actor, rules or SigningRules())
    meaning = choose_meaning(policy, verdict, reauth.meaning)
    signer = uow.signer
    if signer is None:
        from signoff.errors import ServiceUnavailable

        raise ServiceUnavailable("no signing key is loaded: electronic signatures cannot be made")
    user = uow.users.row(actor)
    record = {
        "type": RECORD_TYPE, "request_id": request_row.id, "model": model, "version": version,
        "env": request_row.env, "digest": request_row.digest, "decision": verdict, "meaning": meaning,
        "signer": {"user": actor, "user_id": user.id, "full_name": user.display_name or user.name},
        "signed_at": rfc3339(now), "auth": {"method": reauth.method, "time": rfc3339(reauth.auth_time)},
        "evidence_sha256": evidence_hash(evidence if evidence is not None else _evidence(request_row)),
    }
    envelope = signer.envelope(SIGNATURE_PAYLOAD_TYPE, canonical_json(record).encode("utf-8"))
    signature_id = uow.signatures.add(request_id=request_row.id, user=actor, meaning=meaning,
                                      signed_at=now, record=record, envelope=envelope)
    uow.record(actor=actor, action=SIGNED, subject=f"models/{model}/versions/{version}", model=model,
               after={"signature_id": signature_id, "record": record, "sig": envelope["signatures"][0]})
    return record


def _evidence(row: Any) -> dict[str, Any]:
    from signoff.services.attestations import request_evidence

    return request_evidence(row)


def signatures_for(*, uow: UnitOfWork, request_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each request's signatures (manifestation: name, time, meaning), oldest first."""
    with uow:
        return uow.signatures.for_requests(request_ids)


def with_signatures(*, uow: UnitOfWork, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request dict with its signatures' manifestation (name, user id, UTC time, meaning)."""
    with uow:
        return with_signatures_in(uow, requests)


def with_signatures_in(uow: UnitOfWork, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`with_signatures` inside the caller's transaction."""
    found = uow.signatures.for_requests([r["id"] for r in requests])
    for r in requests:
        r["signatures"] = [manifestation(s) for s in found.get(r["id"], [])]
    return requests


def manifestation(signature: dict[str, Any]) -> dict[str, Any]:
    """What every rendering shows (§11.50): printed name, user id, UTC time, meaning, how authenticated."""
    record = signature["record"]
    return {"id": signature["id"], "request_id": signature["request_id"], "user": record["signer"]["user"],
            "full_name": record["signer"]["full_name"], "user_id": record["signer"]["user_id"],
            "signed_at": record["signed_at"], "meaning": record["meaning"], "decision": record["decision"],
            "auth_method": record["auth"]["method"], "auth_time": record["auth"]["time"],
            "evidence_sha256": record["evidence_sha256"], "keyid": signature["envelope"]["signatures"][0]["keyid"]}
