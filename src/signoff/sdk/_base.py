"""The one client interface; embedded and HTTP transports implement it identically."""

from __future__ import annotations

import abc
from datetime import datetime, timedelta
from typing import Any

from signoff.sdk._records import Record


class BaseClient(abc.ABC):
    """Every method raises the signoff.errors class the server raised (NotFound, PermissionDenied…)."""

    @abc.abstractmethod
    def register(
        self, model: str, artifact_uri: str, *, metrics: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None, run_id: str | None = None, code_commit: str | None = None,
        dataset_hash: str | None = None, flavor: str | None = None, digest: str | None = None,
        description: str | None = None, owner_group: str | None = None,
    ) -> Record:
        """Register the next version of `model`; raises InvalidInput."""

    @abc.abstractmethod
    def models(self, *, cursor: str | None = None, limit: int = 100) -> list[Record]:
        """Models by name."""

    @abc.abstractmethod
    def model(self, name: str) -> Record:
        """One model; raises NotFound."""

    @abc.abstractmethod
    def versions(self, model: str, *, cursor: int | None = None, limit: int = 100) -> list[Record]:
        """Versions newest first with their status per environment; raises NotFound."""

    @abc.abstractmethod
    def version(self, model: str, version: int) -> Record:
        """One version; raises NotFound."""

    def status(self, model: str) -> list[Record]:
        """The board: versions × environments (newest 50); raises NotFound."""
        return self.versions(model, limit=50)

    @abc.abstractmethod
    def request_promotion(self, model: str, version: int, env: str, *, reason: str = "") -> Record:
        """Open the approval request for env; raises InvalidTransition, AlreadyExists, NotFound."""

    @abc.abstractmethod
    def requests(self, *, state: str | None = None, env: str | None = None, model: str | None = None,
                 version: int | None = None, cursor: int | None = None, limit: int = 100) -> list[Record]:
        """Approval requests, oldest first."""

    @abc.abstractmethod
    def request(self, request_id: int) -> Record:
        """One approval request with its decisions; raises NotFound."""

    @abc.abstractmethod
    def decide(self, request_id: int, decision: str, comment: str = "", *, password: str | None = None,
               meaning: str | None = None) -> Record:
        """Approve or reject; raises PermissionDenied, InvalidTransition, GateFailed, PolicyViolation,
        ReauthRequired (an electronic signature needs `password`; `meaning` picks the policy's meaning)."""

    def open_request(self, model: str, version: int, env: str) -> Record:
        """The open request for (model, version, env); raises InvalidTransition if there is none."""
        found = self.requests(state="open", env=env, model=model, version=version, limit=1)
        if not found:
            from signoff.errors import InvalidTransition

            raise InvalidTransition(f"no open approval request for version {version} of {model!r} in {env}",
                                    details={"model": model, "version": version, "env": env})
        return found[0]

    def approve(self, model: str, version: int, env: str, comment: str = "", *, password: str | None = None,
                meaning: str | None = None) -> Record:
        """Approve the open request for (model, version, env); `password`/`meaning` sign it where required."""
        return self.decide(self.open_request(model, version, env)["id"], "approve", comment, password=password,
                           meaning=meaning)

    def reject(self, model: str, version: int, env: str, comment: str, *, password: str | None = None) -> Record:
        """Reject the open request for (model, version, env); a comment is required."""
        return self.decide(self.open_request(model, version, env)["id"], "reject", comment, password=password)

    @abc.abstractmethod
    def resolve(self, model: str, env: str) -> Record:
        """The version live in env (number, artifact URI, digest, approvals); raises NotFound."""

    @abc.abstractmethod
    def report_inference(self, model: str, version: int, env: str, *, metrics: dict[str, Any], rows: int = 0,
                         started_at: datetime | None = None, finished_at: datetime | None = None,
                         profile: dict[str, Any] | None = None) -> Record:
        """Report an inference batch; opens the next environment's request. Raises InvalidTransition."""

    @abc.abstractmethod
    def parameter(self, name: str, version: int | None = None) -> Record:
        """A parameter value (latest or given version); raises NotFound."""

    @abc.abstractmethod
    def parameter_history(self, name: str) -> list[Record]:
        """All versions of a parameter, oldest first; raises NotFound."""

    @abc.abstractmethod
    def audit(self, *, model: str | None = None, since: datetime | None = None, cursor: int | None = None,
              limit: int = 100) -> list[Record]:
        """Audit entries oldest first."""

    @abc.abstractmethod
    def verify_audit(self, checkpoints: list[dict[str, Any]] | None = None) -> Record:
        """Check the chain, its signed checkpoints (stored and given) and the live state against it:
        {ok, checked, first_broken, reason, problems, checkpoints}."""

    @abc.abstractmethod
    def audit_checkpoint(self) -> Record:
        """Sign and keep a checkpoint of the audit chain's head; returns the DSSE envelope."""

    @abc.abstractmethod
    def public_keys(self) -> Record:
        """The server's public signing keys (key id, validity), retired ones included."""

    @abc.abstractmethod
    def attestations(self, model: str, version: int, *, env: str | None = None) -> list[Record]:
        """Deployment attestations of a version, newest first; raises NotFound."""

    @abc.abstractmethod
    def revocations(self) -> Record:
        """The signed revocation list (DSSE envelope) that `verify_attestation(revocations=...)` checks."""

    @abc.abstractmethod
    def evidence(self, model: str, version: int) -> Record:
        """The evidence pack of a version (JSON form); raises NotFound."""

    def attestation(self, model: str, version: int, env: str) -> Record:
        """The newest attestation's DSSE envelope for (model, version, env); raises NotFound."""
        found = self.attestations(model, version, env=env)
        if not found:
            from signoff.errors import NotFound

            raise NotFound(f"no attestation for version {version} of {model!r} in {env}",
                           details={"model": model, "version": version, "env": env})
        return found[0]["envelope"]  # type: ignore[no-any-return]

    @abc.abstractmethod
    def events(self, *, type: str | None = None, cursor: int | None = None, limit: int = 100) -> list[Record]:
        """Outbox events (CloudEvents) oldest first."""

    @abc.abstractmethod
    def set_reference(self, model: str, version: int, reference: Any) -> Record:
        """Attach training data (DataFrame, array, CSV/Parquet path, or a profile) as the drift reference;
        raises PermissionDenied (not the registrant or an admin), InvalidTransition (approved past its first
        environment), NotFound."""

    # Lifecycle after approval.
    @abc.abstractmethod
    def rollback(self, model: str, env: str, *, to_version: int | None = None, reason: str = "") -> Record:
        """Make an earlier version Approved in env live again; raises PermissionDenied, InvalidTransition."""

    @abc.abstractmethod
    def revoke(self, model: str, version: int, env: str, *, reason: str, only_env: bool = False) -> Record:
        """Mark a version Revoked in env and every later environment where it is Approved (`only_env`: env
        alone); the previous approved one goes live where it was. Raises PermissionDenied, InvalidTransition."""

    @abc.abstractmethod
    def break_glass(self, model: str, version: int, env: str, *, justification: str) -> Record:
        """Make a version live in env without its approval (emergency group only); raises PermissionDenied."""

    # Event bus: rules and deliveries.
    @abc.abstractmethod
    def rules(self) -> list[Record]:
        """All rules by name, secrets redacted."""

    @abc.abstractmethod
    def rule(self, name: str) -> Record:
        """One rule; raises NotFound."""

    @abc.abstractmethod
    def add_rule(self, name: str, pattern: dict[str, Any], targets: list[dict[str, Any]], *,
                 description: str = "", enabled: bool = True) -> Record:
        """Create a rule; raises PatternInvalid (with the JSON path), InvalidInput, AlreadyExists, PermissionDenied."""

    @abc.abstractmethod
    def set_rule_enabled(self, name: str, enabled: bool) -> Record:
        """Enable or disable a rule; raises NotFound, PermissionDenied."""

    def test_pattern(self, pattern: dict[str, Any], event: dict[str, Any]) -> bool:
        """Whether `event` matches the EventBridge `pattern`; raises PatternInvalid. Needs no server."""
        from signoff.domain.rules import test_pattern

        return test_pattern(pattern, event)

    @abc.abstractmethod
    def deliveries(self, *, state: str | None = None, rule: str | None = None, cursor: int | None = None,
                   limit: int = 100) -> list[Record]:
        """Deliveries (one per event, rule and target) oldest first; `state="dead"` for dead letters."""

    @abc.abstractmethod
    def delivery(self, delivery_id: int) -> Record:
        """One delivery with its attempt log; raises NotFound."""

    @abc.abstractmethod
    def replay_delivery(self, delivery_id: int) -> Record:
        """Queue a dead delivery again (same idempotency key); raises NotFound, InvalidTransition."""

    # Administration (the admin scope over HTTP; the database's owner embedded).
    @abc.abstractmethod
    def users(self) -> list[Record]:
        """Users and their groups; raises PermissionDenied."""

    @abc.abstractmethod
    def add_user(self, name: str, *, groups: list[str] | None = None, email: str | None = None,
                 password: str | None = None, admin: bool = False) -> Record:
        """Add a local user; raises AlreadyExists, InvalidInput, PermissionDenied."""

    @abc.abstractmethod
    def tokens(self, *, user: str | None = None) -> list[Record]:
        """API tokens (never their secret), oldest first; raises PermissionDenied."""

    @abc.abstractmethod
    def create_token(self, user: str, scopes: list[str], *, expires_in: timedelta | None = None,
                     name: str = "") -> Record:
        """A new token for `user`; `result["token"]` is the only copy of it. Raises NotFound, InvalidInput."""

    @abc.abstractmethod
    def revoke_token(self, token_id: int) -> Record:
        """Revoke a token; raises NotFound, PermissionDenied."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "BaseClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
