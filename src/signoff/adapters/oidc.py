"""OpenID Connect single sign-on: authorization code flow with PKCE, found by discovery.

`begin()` makes the authorization URL and a `PendingLogin` (state, nonce, PKCE verifier) that
the web layer keeps in a signed, short-lived cookie bound to the browser. `complete()` checks
the state against it (constant time), refuses a state it has already seen (a replayed
callback), exchanges the code with the verifier, verifies the ID token's signature against the
provider's JWKS and its claims (issuer, audience, expiry, nonce, at_hash, azp) with Authlib,
and maps the groups claim to signoff groups.

Groups are re-checked at decision time with the grant kept in memory: a refresh-token grant
(which returns a fresh ID token on Entra ID, Okta and Keycloak), else the userinfo endpoint.
Without a usable grant the person has to sign in again: fail closed.
"""

from __future__ import annotations

import hmac
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from signoff.config import OidcSettings
from signoff.domain.identity import Identity, account_name, group_map, mapped_groups
from signoff.errors import AuthenticationFailed, InvalidInput, ServiceUnavailable

log = logging.getLogger("signoff.oidc")

LOGIN_MAX_AGE = 600.0  # seconds between "Sign in with …" and the callback
METADATA_TTL = 3600.0
LEEWAY = 60  # seconds of clock skew tolerated on exp / iat / nbf


@dataclass(frozen=True)
class PendingLogin:
    """What the callback must match: kept by the browser in a signed cookie, never in the URL."""

    state: str
    nonce: str
    verifier: str
    created: float
    next_url: str = "/"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingLogin:
        try:
            return cls(str(data["state"]), str(data["nonce"]), str(data["verifier"]), float(data["created"]),
                       str(data.get("next_url") or "/"))
        except (KeyError, TypeError, ValueError):
            raise AuthenticationFailed("the sign-in attempt is not recognised; start again") from None


@dataclass(frozen=True)
class _Grant:
    sub: str
    access_token: str
    refresh_token: str | None


class OidcProvider:
    """One OpenID provider (issuer) and this server's client registration with it."""

    name = "oidc"

    def __init__(self, settings: OidcSettings, *, redirect_url: str, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.issuer = settings.issuer.rstrip("/")
        self.redirect_url = redirect_url
        self.group_map = group_map(settings.group_map, key="auth.oidc.group_map")
        if "openid" not in settings.scopes:
            raise InvalidInput("auth.oidc.scopes must include 'openid'", details={"key": "auth.oidc.scopes"})
        verify: ssl.SSLContext | bool = settings.tls_verify
        if settings.ca_file and settings.tls_verify:
            verify = ssl.create_default_context(cafile=settings.ca_file)
        self._http = httpx.Client(timeout=settings.timeout, verify=verify, transport=transport,
                                  follow_redirects=False, headers={"Accept": "application/json"})
        self._wall, self._monotonic = wall, monotonic
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: KeySet | None = None
        self._used_states: dict[str, float] = {}
        self._grants: dict[str, _Grant] = {}

    @property
    def display_name(self) -> str:
        return self.settings.display_name

    # ------------------------------------------------------------------ the flow

    def begin(self, next_url: str = "/", *, max_age: int | None = None) -> tuple[str, PendingLogin]:
        """The provider's authorization URL to send the browser to, and what its callback must match.

        `max_age=0` (electronic signatures) asks the provider to authenticate the person again;
        the ID token's `auth_time` then says whether it did (services/esign.py checks it).
        """
        pending = PendingLogin(generate_token(32), generate_token(32), generate_token(64), self._wall(), next_url)
        extra: dict[str, Any] = {} if max_age is None else {"max_age": str(max_age), "prompt": "login"}
        url = prepare_grant_uri(
            self.metadata()["authorization_endpoint"], self.settings.client_id, "code", self.redirect_url,
            self.settings.scopes, pending.state, nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.verifier), code_challenge_method="S256", **extra)
        return url, pending

    def complete(self, *, params: Mapping[str, str], pending: PendingLogin | None) -> Identity:
        """The identity behind a callback; raises AuthenticationFailed, ServiceUnavailable."""
        if pending is None:
            raise AuthenticationFailed("the sign-in attempt is not recognised (no state); start again")
        if params.get("error"):
            raise AuthenticationFailed(f"{self.display_name} refused the sign-in: "
                                       f"{params.get('error_description') or params['error']}")
        state = params.get("state") or ""
        if not hmac.compare_digest(state.encode(), pending.state.encode()):
            raise AuthenticationFailed("the sign-in response does not belong to this browser (state mismatch)")
        self._use_state(state)
        if self._wall() - pending.created > LOGIN_MAX_AGE:
            raise AuthenticationFailed("the sign-in took too long; start again")
        code = params.get("code")
        if not code:
            raise AuthenticationFailed("the sign-in response carries no authorization code")
        tokens = self._token_request({"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": self.redirect_url, "code_verifier": pending.verifier})
        claims = self._id_token_claims(tokens, nonce=pending.nonce)
        auth_time = claims.get("auth_time")  # only the signed ID token's word counts, not userinfo's
        claims = {k: v for k, v in self._with_userinfo(claims, tokens["access_token"]).items() if k != "auth_time"}
        identity = self._identity({**claims, "auth_time": auth_time} if auth_time is not None else claims)
        with self._lock:
            self._grants[identity.name] = _Grant(str(claims["sub"]), tokens["access_token"], tokens.get("refresh_token"))
        return identity

    def current_groups(self, user: str) -> frozenset[str]:
        """Groups now, asked of the provider with the grant from sign-in; raises AuthenticationFailed, ServiceUnavailable."""
        with self._lock:
            grant = self._grants.get(user)
        if grant is None:
            raise AuthenticationFailed(f"your groups at {self.display_name} must be checked again: sign in again",
                                       details={"user": user, "provider": self.name})
        claims: dict[str, Any] | None = None
        if grant.refresh_token:
            try:
                tokens = self._token_request({"grant_type": "refresh_token", "refresh_token": grant.refresh_token})
            except AuthenticationFailed:
                with self._lock:
                    self._grants.pop(user, None)
                raise AuthenticationFailed(f"your session at {self.display_name} has ended: sign in again",
                                           details={"user": user, "provider": self.name}) from None
            grant = _Grant(grant.sub, tokens["access_token"], tokens.get("refresh_token") or grant.refresh_token)
            if tokens.get("id_token"):
                claims = self._id_token_claims(tokens, nonce=None)
        if claims is None or self.settings.groups_claim not in claims:
            claims = self._userinfo(grant.access_token, grant.sub)
        if str(claims.get("sub")) != grant.sub:
            raise AuthenticationFailed("the identity provider answered for another subject")
        with self._lock:
            self._grants[user] = grant
        return self._groups(claims)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ provider calls

    def metadata(self) -> dict[str, Any]:
        """The discovery document, cached for an hour; raises ServiceUnavailable."""
        cached = self._metadata
        if cached is not None and self._monotonic() - cached[0] < METADATA_TTL:
            return cached[1]
        meta = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        if str(meta.get("issuer", "")).rstrip("/") != self.issuer:
            raise ServiceUnavailable(f"the discovery document names issuer {meta.get('issuer')!r}, "
                                     f"not {self.issuer!r}", details={"provider": self.name})
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise ServiceUnavailable(f"the discovery document lacks {key}", details={"provider": self.name})
        self._metadata = (self._monotonic(), meta)
        return meta

    def _keys(self, *, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            document = self._get_json(self.metadata()["jwks_uri"])
            self._jwks = KeySet.import_key_set({"keys": document["keys"]})  # the set's only member
        return self._jwks

    def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise self._down(exc) from None
        if response.status_code in (401, 403):
            raise AuthenticationFailed(f"{self.display_name} refused the request ({response.status_code})")
        if response.status_code != 200:
            raise ServiceUnavailable(f"{self.display_name} answered {response.status_code} for {url}",
                                     details={"provider": self.name, "status": response.status_code})
        return _json_object(response)

    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        secret = self.settings.client_secret
        auth = httpx.BasicAuth(self.settings.client_id, secret.get_secret_value()) if secret else None
        if auth is None:
            form = {**form, "client_id": self.settings.client_id}  # a public client (PKCE only)
        try:
            # The client itself carries no credentials: its default is none.
            response = self._http.post(self.metadata()["token_endpoint"], data=form,
                                       auth=auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise self._down(exc) from None
        if response.status_code >= 500:
            raise ServiceUnavailable(f"{self.display_name} answered {response.status_code} at the token endpoint",
                                     details={"provider": self.name, "status": response.status_code})
        body = _json_object(response)
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise AuthenticationFailed(f"{self.display_name} refused the code: "
                                       f"{body.get('error_description') or body.get('error') or response.status_code}")
        return body

    def _id_token_claims(self, tokens: Mapping[str, Any], *, nonce: str | None) -> dict[str, Any]:
        raw = tokens.get("id_token")
        if not isinstance(raw, str):
            raise AuthenticationFailed(f"{self.display_name} sent no ID token (is the 'openid' scope allowed?)")
        algorithms = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in algorithms if a != "none"]
        try:
            try:
                token = jwt.decode(raw, self._keys(), algorithms=algorithms)
            except JoseError:  # keys rotated since we fetched them: fetch once more
                token = jwt.decode(raw, self._keys(refresh=True), algorithms=algorithms)
            options = {"iss": {"essential": True, "value": self.issuer},
                       "aud": {"essential": True, "value": self.settings.client_id}}
            params = {"client_id": self.settings.client_id, "access_token": tokens.get("access_token")}
            if nonce is not None:
                params["nonce"] = nonce
            claims = CodeIDToken(token.claims, token.header, options, params)
            if nonce is not None and "nonce" not in claims:
                raise AuthenticationFailed("the ID token carries no nonce")
            claims.validate(now=int(self._wall()), leeway=LEEWAY)
        except JoseError as exc:
            raise AuthenticationFailed(f"the ID token from {self.display_name} is not valid: {exc}") from None
        return dict(claims)

    def _with_userinfo(self, claims: dict[str, Any], access_token: str) -> dict[str, Any]:
        if self.settings.groups_claim in claims and self.settings.username_claim in claims:
            return claims
        if not self.metadata().get("userinfo_endpoint"):
            return claims
        return {**self._userinfo(access_token, str(claims["sub"])), **claims}

    def _userinfo(self, access_token: str, sub: str) -> dict[str, Any]:
        endpoint = self.metadata().get("userinfo_endpoint")
        if not endpoint:
            raise AuthenticationFailed(f"{self.display_name} offers no way to re-check groups: sign in again")
        info = self._get_json(endpoint, headers={"Authorization": f"Bearer {access_token}"})
        if str(info.get("sub")) != sub:  # OIDC Core 5.3.2: must match the ID token's subject
            raise AuthenticationFailed("the userinfo answer is for another subject")
        return info

    # ------------------------------------------------------------------ mapping

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        raw = claims.get(self.settings.username_claim)
        if not isinstance(raw, str) or not raw:
            raise AuthenticationFailed(f"the ID token has no {self.settings.username_claim!r} claim to name you by")
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        if claims.get("email_verified") is False:
            email = None  # review links are matched against it: only an address the provider checked
        name = claims.get("name") if isinstance(claims.get("name"), str) else None
        auth_time = claims.get("auth_time")
        return Identity(account_name(raw, strip_domain=self.settings.strip_domain), self.name,
                        self._groups(claims), email, name,
                        float(auth_time) if isinstance(auth_time, (int, float)) else None)

    def _groups(self, claims: Mapping[str, Any]) -> frozenset[str]:
        value = claims.get(self.settings.groups_claim)
        if value is None and "groups" in (claims.get("_claim_names") or {}):
            # Entra ID "overage": too many groups to put in the token. Assign the groups that matter
            # to the application (docs/auth.md); until then this person has no signoff groups.
            log.warning("oidc: groups overage for %s; no groups mapped", claims.get("sub"))
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        return mapped_groups([str(v) for v in values], self.group_map)

    def _use_state(self, state: str) -> None:
        """Each state answers once; a replayed callback is refused even with a valid cookie."""
        now = self._monotonic()
        with self._lock:
            for old in [s for s, until in self._used_states.items() if until <= now]:
                del self._used_states[old]
            if state in self._used_states:
                raise AuthenticationFailed("this sign-in response was already used (replayed state); start again")
            self._used_states[state] = now + 2 * LOGIN_MAX_AGE

    def _down(self, exc: Exception) -> ServiceUnavailable:
        log.warning("oidc provider %s unavailable: %s", self.issuer, exc)
        return ServiceUnavailable(f"{self.display_name} (single sign-on) is unavailable; try again in a minute",
                                  details={"provider": self.name, "problem": type(exc).__name__})


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ServiceUnavailable(f"unexpected answer ({response.status_code}) from {response.request.url}",
                                 details={"provider": "oidc", "status": response.status_code})
    return body
