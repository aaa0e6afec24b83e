"""MLflow's REST API (`/api/2.0/mlflow/...`), the part of it the bridge uses, over httpx.

signoff talks to the tracking server the way MLflow's own `RestStore` does, so it needs no
MLflow package on the server side. Credentials come from MLflow's environment variables
(`MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`).

Errors are mapped at this boundary: an unreachable server, a timeout, 429 and 5xx are
ServiceUnavailable (the event bus retries them), MLflow's RESOURCE_DOES_NOT_EXIST is NotFound,
401/403 are AuthenticationFailed/PermissionDenied, any other refusal is InvalidInput.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from signoff.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied, ServiceUnavailable

API = "/api/2.0/mlflow"
PAGE = 1000


def credentials_from_env(env: Mapping[str, str] | None = None) -> httpx.Auth | dict[str, str] | None:
    """Bearer token or basic auth from MLflow's own variables (the token wins, as in MLflow)."""
    env = os.environ if env is None else env
    token = env.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return httpx.BasicAuth(user, password)
    return None


class MlflowRest:
    """A thread-safe client for one tracking server."""

    def __init__(self, tracking_uri: str, *, timeout: float = 10.0,
                 env: Mapping[str, str] | None = None) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        creds = credentials_from_env(env)
        headers = creds if isinstance(creds, dict) else {}
        auth = creds if isinstance(creds, httpx.Auth) else None
        self._http = httpx.Client(base_url=self.tracking_uri + API, timeout=timeout, headers=headers,
                                  auth=auth, trust_env=False)

    def close(self) -> None:
        self._http.close()

    # -- transport ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            if method == "GET":
                response = self._http.get(path, params=body)
            else:
                response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"MLflow at {self.tracking_uri} is unreachable: {type(exc).__name__}: {exc}",
                                     details={"tracking_uri": self.tracking_uri}) from None
        if response.status_code < 300:
            return response.json() if response.content else {}
        try:
            error = response.json()
        except ValueError:
            error = {}
        code = str(error.get("error_code", ""))
        message = f"MLflow {method} {path}: {response.status_code} {error.get('message') or response.text[:200]}"
        details = {"tracking_uri": self.tracking_uri, "status_code": response.status_code, "mlflow_code": code}
        if response.status_code == 404 or code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(message, details=details)
        if response.status_code == 401:
            raise AuthenticationFailed(message, details=details)
        if response.status_code == 403:
            raise PermissionDenied(message, details=details)
        if response.status_code == 429 or response.status_code >= 500:
            raise ServiceUnavailable(message, details=details)
        raise InvalidInput(message, details=details)

    # -- registry -----------------------------------------------------------------------------

    def registered_models(self) -> Iterator[dict[str, Any]]:
        """Every registered model (with its aliases), page by page."""
        token: str | None = None
        while True:
            body: dict[str, Any] = {"max_results": PAGE}
            if token:
                body["page_token"] = token
            page = self._call("GET", "/registered-models/search", body)
            yield from page.get("registered_models", [])
            token = page.get("next_page_token")
            if not token:
                return

    def registered_model(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", "/registered-models/get", {"name": name})["registered_model"]
        return found

    def model_versions(self, name: str) -> Iterator[dict[str, Any]]:
        """Every version of a registered model, page by page."""
        token: str | None = None
        escaped = name.replace("'", "\\'")
        while True:
            body: dict[str, Any] = {"filter": f"name='{escaped}'", "max_results": PAGE}
            if token:
                body["page_token"] = token
            page = self._call("GET", "/model-versions/search", body)
            yield from page.get("model_versions", [])
            token = page.get("next_page_token")
            if not token:
                return

    def model_version(self, name: str, version: int | str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", "/model-versions/get",
                                           {"name": name, "version": str(version)})["model_version"]
        return found

    def download_uri(self, name: str, version: int | str) -> str | None:
        try:
            found = self._call("GET", "/model-versions/get-download-uri", {"name": name, "version": str(version)})
        except NotFound:
            return None
        return found.get("artifact_uri") or None

    def aliases(self, name: str) -> dict[str, int]:
        """alias -> version of a registered model (MLflow answers a missing alias with a 400, not a
        404, so the registered model's alias list is the reliable read)."""
        model = self.registered_model(name)
        return {a["alias"]: int(a["version"]) for a in model.get("aliases", [])}

    def set_alias(self, name: str, alias: str, version: int | str) -> None:
        self._call("POST", "/registered-models/alias", {"name": name, "alias": alias, "version": str(version)})

    def delete_alias(self, name: str, alias: str) -> None:
        try:
            self._call("DELETE", "/registered-models/alias", {"name": name, "alias": alias})
        except NotFound:
            pass  # already gone: what we wanted
        except InvalidInput as exc:
            if not _missing(exc):
                raise

    def set_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        self._call("POST", "/model-versions/set-tag", {"name": name, "version": str(version), "key": key,
                                                        "value": value})

    def delete_tag(self, name: str, version: int | str, key: str) -> None:
        try:
            self._call("DELETE", "/model-versions/delete-tag", {"name": name, "version": str(version), "key": key})
        except NotFound:
            pass
        except InvalidInput as exc:
            if not _missing(exc):
                raise

    # -- tracking -----------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._call("GET", "/runs/get", {"run_id": run_id})["run"]  # a Run object
            return found
        except NotFound:
            return None  # deleted or never logged here (a version may name a foreign run)

    # -- links (the MLflow UI) ----------------------------------------------------------------

    def version_url(self, name: str, version: int | str) -> str:
        return f"{self.tracking_uri}/#/models/{urllib.parse.quote(name, safe='')}/versions/{version}"

    def run_url(self, experiment_id: str | None, run_id: str) -> str:
        return f"{self.tracking_uri}/#/experiments/{experiment_id or '0'}/runs/{run_id}"


def _missing(exc: InvalidInput) -> bool:
    """MLflow answers a missing alias or tag with 400 INVALID_PARAMETER_VALUE "... not found"."""
    return exc.details.get("mlflow_code") == "INVALID_PARAMETER_VALUE" and "not found" in exc.message.lower()
