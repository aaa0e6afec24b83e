"""The HTTP transport: the same client methods over the REST API, the same exception classes.

Error bodies `{"error": {"code", ...}}` are turned back into the signoff.errors class that
owns the code, as MLflow's RestStore does; `resolve` keeps the last answer per (model, env)
and revalidates it with `If-None-Match`, so polling costs the server a 304.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar, Unpack
from urllib.parse import quote

import httpx

from signoff.errors import (
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    SignoffError,
    error_for_code,
    error_for_status,
)
from signoff.sdk._base import DerivedMethods
from signoff.sdk._records import (
    ApprovalRequestPublic,
    AuditEntryPublic,
    AuditReport,
    AwsKeyCreated,
    AwsKeyPublic,
    DeliveryDetail,
    DeliveryPublic,
    EventPublic,
    InferenceReportPublic,
    ModelPublic,
    ParameterPublic,
    Record,
    RegisterOptions,
    Result,
    RulePublic,
    TokenCreated,
    TokenPublic,
    UserPublic,
    VersionPublic,
    record_of,
    register_options,
)
from signoff.sdk._resolved import Resolved

API = "/api/v1"
R = TypeVar("R", bound=Result)
MAX_PAGE = 500


def _seg(value: Any) -> str:
    return quote(str(value), safe="")


def _drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class RemoteClient(DerivedMethods):
    def __init__(self, url: str, token: str | None = None, *, as_user: str | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0) -> None:
        headers = {"User-Agent": "signoff-sdk", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if as_user:
            headers["X-Signoff-As"] = as_user
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, transport=transport, timeout=timeout)
        self._resolved: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    # --- plumbing -------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
              headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self._http.request(method, API + path, params=_drop_none(params or {}), json=json,
                                          headers=headers)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"cannot reach the signoff server at {self.url}: {exc}",
                                     details={"url": self.url}) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _get(self, path: str, **params: Any) -> Record:
        return record_of(self._send("GET", path, params=params).json())

    def _post(self, path: str, body: dict[str, Any]) -> Record:
        return record_of(self._send("POST", path, json=body).json())

    def _items(self, path: str, **params: Any) -> list[Record]:
        return [record_of(item) for item in self._send("GET", path, params=params).json()["items"]]

    # Positional-only, so that query parameters may be called `model` or `path`.
    def _json(self, method: str, path: str, body: Any = None, /, **params: Any) -> Any:
        return self._send(method, path, params=params, json=body).json()

    def _one(self, cls: type[R], method: str, path: str, body: Any = None, /, **params: Any) -> R:
        return cls.model_validate(self._json(method, path, body, **params))

    def _many(self, cls: type[R], path: str, /, **params: Any) -> list[R]:
        return [cls.model_validate(item) for item in self._json("GET", path, **params)["items"]]

    # --- the client interface ---------------------------------------------------------------

    def register(self, model: str, artifact_uri: str, **options: Unpack[RegisterOptions]) -> VersionPublic:
        """Register the next version by URI; `reference` (training data or a profile) is sent with it as its
        drift reference, written in the same transaction. Raises InvalidInput (also for store=True: the
        server cannot read this machine's files)."""
        fields = register_options(options)
        if fields.pop("store", None):
            raise InvalidInput("store=True needs the embedded mode: over HTTP, register an artifact URI the server "
                               "and the inference pipelines can read", details={"field": "store"})
        reference = fields.pop("reference", None)
        profile = None
        if reference is not None:
            from signoff.inference._profile import reference_profile

            profile = reference_profile(reference)
        # The options are the body's fields by name; None means "not given", as the server's defaults do.
        body = {name: value for name, value in fields.items() if value is not None}
        body.update(artifact_uri=artifact_uri, reference_profile=profile)
        version = self._json("POST", f"/models/{_seg(model)}/versions", body)
        return VersionPublic.model_validate({**version, "stored": False, "reference": profile is not None})

    def set_reference(self, model: str, version: int, reference: Any) -> Record:
        """Attach training data (DataFrame, array, CSV/Parquet path, or a profile) as the drift reference."""
        from signoff.inference._profile import reference_profile

        profile = reference_profile(reference)
        path = f"/models/{_seg(model)}/versions/{_seg(version)}/reference-profile"
        return record_of(self._send("PUT", path, json=profile or {}).json())

    def models(self, *, cursor: str | None = None, limit: int = 100) -> list[ModelPublic]:
        return self._many(ModelPublic, "/models", cursor=cursor, limit=min(limit, MAX_PAGE))

    def model(self, name: str) -> ModelPublic:
        return self._one(ModelPublic, "GET", f"/models/{_seg(name)}")

    def versions(self, model: str, *, cursor: int | None = None, limit: int = 100) -> list[VersionPublic]:
        return self._many(VersionPublic, f"/models/{_seg(model)}/versions", cursor=cursor, limit=min(limit, MAX_PAGE))

    def version(self, model: str, version: int) -> VersionPublic:
        return self._one(VersionPublic, "GET", f"/models/{_seg(model)}/versions/{_seg(version)}")

    def request_promotion(self, model: str, version: int, env: str, *, reason: str = "") -> ApprovalRequestPublic:
        return self._one(ApprovalRequestPublic, "POST", f"/models/{_seg(model)}/versions/{_seg(version)}/promotions",
                         {"env": env, "reason": reason})

    def requests(self, *, state: str | None = None, env: str | None = None, model: str | None = None,
                 version: int | None = None, cursor: int | None = None, limit: int = 100) -> list[ApprovalRequestPublic]:
        return self._many(ApprovalRequestPublic, "/approval-requests", state=state, env=env, model=model,
                          version=version, cursor=cursor, limit=min(limit, MAX_PAGE))

    def request(self, request_id: int) -> ApprovalRequestPublic:
        return self._one(ApprovalRequestPublic, "GET", f"/approval-requests/{_seg(request_id)}")

    def decide(self, request_id: int, decision: str, comment: str = "", *, password: str | None = None,
               meaning: str | None = None) -> ApprovalRequestPublic:
        body: dict[str, Any] = {"decision": decision, "comment": comment}
        if password is not None:
            body["password"] = password
        if meaning is not None:
            body["meaning"] = meaning
        return self._one(ApprovalRequestPublic, "POST", f"/approval-requests/{_seg(request_id)}/decisions", body)

    def resolve(self, model: str, env: str) -> Resolved:
        key = (model, env)
        cached = self._resolved.get(key)
        headers = {"If-None-Match": cached[0]} if cached else None
        try:
            response = self._send("GET", f"/models/{_seg(model)}/environments/{_seg(env)}", headers=headers)
        except NotFound:
            self._resolved.pop(key, None)
            raise
        if response.status_code == 304 and cached:
            return Resolved.of(cached[1], on_mismatch=self._refused_load)
        live: dict[str, Any] = response.json()
        etag = response.headers.get("etag")
        if etag:
            self._resolved[key] = (etag, live)
        return Resolved.of(live, on_mismatch=self._refused_load)

    def _refused_load(self, live: Resolved, exc: Exception) -> None:
        details = getattr(exc, "details", {})
        self._send("POST", f"/models/{_seg(live['model'])}/versions/{_seg(live['version'])}/artifact-mismatches",
                   json={"env": live.get("env"), "artifact_uri": live["artifact_uri"],
                         "expected_digest": details.get("expected_digest"), "digest": details.get("digest")})

    def rollback(self, model: str, env: str, *, to_version: int | None = None, reason: str = "") -> Record:
        return self._post(f"/models/{_seg(model)}/environments/{_seg(env)}/rollbacks",
                          {"to_version": to_version, "reason": reason})

    def revoke(self, model: str, version: int, env: str, *, reason: str, only_env: bool = False) -> Record:
        path = f"/models/{_seg(model)}/versions/{_seg(version)}/environments/{_seg(env)}/revocations"
        return self._post(path, {"reason": reason, "only_env": only_env})

    def break_glass(self, model: str, version: int, env: str, *, justification: str) -> Record:
        path = f"/models/{_seg(model)}/versions/{_seg(version)}/environments/{_seg(env)}/break-glass"
        return self._post(path, {"justification": justification})

    def report_inference(self, model: str, version: int, env: str, *, metrics: dict[str, Any], rows: int = 0,
                         started_at: datetime | None = None, finished_at: datetime | None = None,
                         profile: dict[str, Any] | None = None) -> InferenceReportPublic:
        body = {"env": env, "metrics": metrics, "rows": rows, "profile": profile,
                "started_at": started_at.isoformat() if started_at else None,
                "finished_at": finished_at.isoformat() if finished_at else None}
        return self._one(InferenceReportPublic, "POST",
                         f"/models/{_seg(model)}/versions/{_seg(version)}/inference-reports", body)

    def parameter(self, name: str, version: int | None = None) -> ParameterPublic:
        return self._one(ParameterPublic, "GET", _parameter_path(name), version=version)

    def parameter_history(self, name: str) -> list[ParameterPublic]:
        out: list[ParameterPublic] = []
        cursor: str | None = None
        while True:
            page = self._json("GET", _parameter_path(name) + "/history", cursor=cursor, limit=MAX_PAGE)
            out.extend(ParameterPublic.model_validate(item) for item in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return out

    def audit(self, *, model: str | None = None, since: datetime | None = None, cursor: int | None = None,
              limit: int = 100) -> list[AuditEntryPublic]:
        return self._many(AuditEntryPublic, "/audit", model=model, since=since.isoformat() if since else None,
                          cursor=cursor, limit=min(limit, MAX_PAGE))

    def verify_audit(self, checkpoints: list[dict[str, Any]] | None = None) -> AuditReport:
        if checkpoints:
            return self._one(AuditReport, "POST", "/audit/verify", {"checkpoints": checkpoints})
        return self._one(AuditReport, "GET", "/audit/verify")

    def audit_checkpoint(self) -> Record:
        return self._post("/audit/checkpoints", {})

    def public_keys(self) -> Record:
        return self._get("/keys")

    def revocations(self) -> Record:
        return self._get("/revocations")

    def evidence(self, model: str, version: int) -> Record:
        return self._get(f"/models/{_seg(model)}/versions/{_seg(version)}/evidence")

    def attestations(self, model: str, version: int, *, env: str | None = None) -> list[Record]:
        return self._items(f"/models/{_seg(model)}/versions/{_seg(version)}/attestations", env=env)

    def events(self, *, type: str | None = None, cursor: int | None = None, limit: int = 100) -> list[EventPublic]:
        return self._many(EventPublic, "/events", type=type, cursor=cursor, limit=min(limit, MAX_PAGE))

    # --- event bus: rules and deliveries ------------------------------------------------------

    def rules(self) -> list[RulePublic]:
        return self._many(RulePublic, "/rules")

    def rule(self, name: str) -> RulePublic:
        return self._one(RulePublic, "GET", f"/rules/{_seg(name)}")

    def add_rule(self, name: str, pattern: dict[str, Any], targets: list[dict[str, Any]], *,
                 description: str = "", enabled: bool = True) -> RulePublic:
        body = {"name": name, "pattern": pattern, "targets": targets, "description": description, "enabled": enabled}
        return self._one(RulePublic, "POST", "/rules", body)

    def set_rule_enabled(self, name: str, enabled: bool) -> RulePublic:
        return self._one(RulePublic, "PATCH", f"/rules/{_seg(name)}", {"enabled": enabled})

    def deliveries(self, *, state: str | None = None, rule: str | None = None, cursor: int | None = None,
                   limit: int = 100) -> list[DeliveryPublic]:
        return self._many(DeliveryPublic, "/deliveries", state=state, rule=rule, cursor=cursor,
                          limit=min(limit, MAX_PAGE))

    def delivery(self, delivery_id: int) -> DeliveryDetail:
        return self._one(DeliveryDetail, "GET", f"/deliveries/{_seg(delivery_id)}")

    def replay_delivery(self, delivery_id: int) -> DeliveryPublic:
        return self._one(DeliveryPublic, "POST", f"/deliveries/{_seg(delivery_id)}/replay")

    # --- administration (admin scope): what `signoff users` and `signoff tokens` do remotely ----

    def users(self) -> list[UserPublic]:
        return self._many(UserPublic, "/users")

    def add_user(self, name: str, *, groups: list[str] | None = None, email: str | None = None,
                 password: str | None = None, admin: bool = False) -> UserPublic:
        return self._one(UserPublic, "POST", "/users", {"name": name, "groups": groups or [], "email": email,
                                                         "password": password, "admin": admin})

    def user(self, name: str) -> UserPublic:
        return self._one(UserPublic, "GET", f"/users/{_seg(name)}")

    def disable_user(self, name: str, *, reason: str = "") -> UserPublic:
        return self._one(UserPublic, "POST", f"/users/{_seg(name)}/disable", {"reason": reason})

    def enable_user(self, name: str) -> UserPublic:
        return self._one(UserPublic, "POST", f"/users/{_seg(name)}/enable")

    def delete_user(self, name: str) -> UserPublic:
        return self._one(UserPublic, "DELETE", f"/users/{_seg(name)}")

    def set_user_groups(self, name: str, groups: list[str]) -> UserPublic:
        return self._one(UserPublic, "PUT", f"/users/{_seg(name)}/groups", {"groups": groups})

    def set_user_password(self, name: str, password: str) -> UserPublic:
        return self._one(UserPublic, "PUT", f"/users/{_seg(name)}/password", {"password": password})

    def tokens(self, *, user: str | None = None) -> list[TokenPublic]:
        return self._many(TokenPublic, "/tokens", user=user)

    def create_token(self, user: str, scopes: list[str], *, expires_in: timedelta | None = None,
                     name: str = "") -> TokenCreated:
        seconds = int(expires_in.total_seconds()) if expires_in is not None else None
        return self._one(TokenCreated, "POST", "/tokens", {"user": user, "scopes": scopes,
                                                            "expires_in_seconds": seconds, "name": name})

    def revoke_token(self, token_id: int) -> TokenPublic:
        return self._one(TokenPublic, "DELETE", f"/tokens/{_seg(token_id)}")

    def aws_keys(self, *, user: str | None = None) -> list[AwsKeyPublic]:
        return self._many(AwsKeyPublic, "/aws-keys", user=user)

    def create_aws_key(self, user: str, *, scopes: list[str] | None = None, expires_in: timedelta | None = None,
                       name: str = "") -> AwsKeyCreated:
        seconds = int(expires_in.total_seconds()) if expires_in is not None else None
        return self._one(AwsKeyCreated, "POST", "/aws-keys", {"user": user, "scopes": list(scopes) if scopes else None,
                                                               "name": name, "expires_in_seconds": seconds})

    def revoke_aws_key(self, key: int | str) -> AwsKeyPublic:
        return self._one(AwsKeyPublic, "DELETE", f"/aws-keys/{_seg(key)}")

    def close(self) -> None:
        self._http.close()


def _parameter_path(name: str) -> str:
    parts = [p for p in name.split("/") if p]
    if not parts or not name.startswith("/"):
        # What the embedded store answers for a name it cannot hold.
        raise NotFound(f"parameter {name!r} not found", details={"name": name})
    return "/parameters/" + "/".join(_seg(p) for p in parts)


def _error(response: httpx.Response) -> SignoffError:
    """The exception the server raised, rebuilt from its JSON error body."""
    try:
        body = response.json()["error"]
        code, message, details = str(body["code"]), str(body["message"]), dict(body.get("details") or {})
    except (ValueError, KeyError, TypeError):
        code, message, details = "", f"HTTP {response.status_code}: {response.text[:200]}", {}
    cls = error_for_code(code) if code else SignoffError
    if cls is SignoffError:
        cls = error_for_status(response.status_code)
    error = cls(message, details=details)
    error.status_code = response.status_code
    return error
