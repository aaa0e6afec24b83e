"""The one client interface; embedded and HTTP transports implement it identically."""

from __future__ import annotations

import abc
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Unpack

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
    RulePublic,
    TokenCreated,
    TokenPublic,
    UserPublic,
    VersionPublic,
    record_of,
)

if TYPE_CHECKING:
    from signoff.sdk._resolved import Resolved


class BaseClient(abc.ABC):
    """Every method raises the signoff.errors class the server raised (NotFound, PermissionDenied…).

    Entities come back as the models in signoff/sdk/_records.py, the same ones the REST API
    declares; documents (envelopes, evidence packs, key sets) as Records.
    """

    @abc.abstractmethod
    def register(self, model: str, artifact_uri: str, **options: Unpack[RegisterOptions]) -> VersionPublic:
        """Register the next version of `model`. The options (RegisterOptions, all optional): `metrics`,
        `metadata`, the lineage (`run_id`, `code_commit`, `dataset_hash`), `flavor`, `digest`, the model's
        `description` and `owner_group` when this creates it, `reference` (training data or a profile),
        which becomes its drift reference in the same transaction, and `store`, which copies the artifact
        in by digest (embedded only; None: when it exists there and no digest is given). Raises
        InvalidInput (store=True over HTTP), NotFound (store=True, missing), TypeError (an unknown option)."""

    @abc.abstractmethod
    def models(self, *, cursor: str | None = None, limit: int = 100) -> list[ModelPublic]:
        """Models by name."""

    @abc.abstractmethod
    def model(self, name: str) -> ModelPublic:
        """One model; raises NotFound."""

    @abc.abstractmethod
    def versions(self, model: str, *, cursor: int | None = None, limit: int = 100) -> list[VersionPublic]:
        """Versions newest first with their status per environment; raises NotFound."""

    @abc.abstractmethod
    def version(self, model: str, version: int) -> VersionPublic:
        """One version; raises NotFound."""

    @abc.abstractmethod
    def status(self, model: str) -> list[VersionPublic]:
        """The board: versions × environments (newest 50); raises NotFound."""

    @abc.abstractmethod
    def request_promotion(self, model: str, version: int, env: str, *, reason: str = "") -> ApprovalRequestPublic:
        """Open the approval request for env; raises InvalidTransition, AlreadyExists, NotFound."""

    @abc.abstractmethod
    def requests(self, *, state: str | None = None, env: str | None = None, model: str | None = None,
                 version: int | None = None, cursor: int | None = None, limit: int = 100) -> list[ApprovalRequestPublic]:
        """Approval requests, oldest first."""

    @abc.abstractmethod
    def request(self, request_id: int) -> ApprovalRequestPublic:
        """One approval request with its decisions; raises NotFound."""

    @abc.abstractmethod
    def decide(self, request_id: int, decision: str, comment: str = "", *, password: str | None = None,
               meaning: str | None = None) -> ApprovalRequestPublic:
        """Approve or reject; raises PermissionDenied, InvalidTransition, GateFailed, PolicyViolation,
        ReauthRequired (an electronic signature needs `password`; `meaning` picks the policy's meaning)."""

    @abc.abstractmethod
    def open_request(self, model: str, version: int, env: str) -> ApprovalRequestPublic:
        """The open request for (model, version, env); raises InvalidTransition if there is none."""

    @abc.abstractmethod
    def approve(self, model: str, version: int, env: str, comment: str = "", *, password: str | None = None,
                meaning: str | None = None) -> ApprovalRequestPublic:
        """Approve the open request for (model, version, env); `password`/`meaning` sign it where required."""

    @abc.abstractmethod
    def reject(self, model: str, version: int, env: str, comment: str, *,
               password: str | None = None) -> ApprovalRequestPublic:
        """Reject the open request for (model, version, env); a comment is required."""

    @abc.abstractmethod
    def resolve(self, model: str, env: str) -> Resolved:
        """The version live in env (number, artifact URI, digest, approvals); raises NotFound."""

    @abc.abstractmethod
    def report_inference(self, model: str, version: int, env: str, *, metrics: dict[str, Any], rows: int = 0,
                         started_at: datetime | None = None, finished_at: datetime | None = None,
                         profile: dict[str, Any] | None = None) -> InferenceReportPublic:
        """Report an inference batch; opens the next environment's request. Raises InvalidTransition."""

    @abc.abstractmethod
    def parameter(self, name: str, version: int | None = None) -> ParameterPublic:
        """A parameter value (latest or given version); raises NotFound."""

    @abc.abstractmethod
    def parameter_history(self, name: str) -> list[ParameterPublic]:
        """All versions of a parameter, oldest first; raises NotFound."""

    @abc.abstractmethod
    def audit(self, *, model: str | None = None, since: datetime | None = None, cursor: int | None = None,
              limit: int = 100) -> list[AuditEntryPublic]:
        """Audit entries oldest first."""

    @abc.abstractmethod
    def verify_audit(self, checkpoints: list[dict[str, Any]] | None = None) -> AuditReport:
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

    @abc.abstractmethod
    def attestation(self, model: str, version: int, env: str) -> Record:
        """The newest attestation's DSSE envelope for (model, version, env); raises NotFound."""

    @abc.abstractmethod
    def events(self, *, type: str | None = None, cursor: int | None = None, limit: int = 100) -> list[EventPublic]:
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
    def rules(self) -> list[RulePublic]:
        """All rules by name, secrets redacted."""

    @abc.abstractmethod
    def rule(self, name: str) -> RulePublic:
        """One rule; raises NotFound."""

    @abc.abstractmethod
    def add_rule(self, name: str, pattern: dict[str, Any], targets: list[dict[str, Any]], *,
                 description: str = "", enabled: bool = True) -> RulePublic:
        """Create a rule; raises PatternInvalid (with the JSON path), InvalidInput, AlreadyExists, PermissionDenied."""

    @abc.abstractmethod
    def set_rule_enabled(self, name: str, enabled: bool) -> RulePublic:
        """Enable or disable a rule; raises NotFound, PermissionDenied."""

    @abc.abstractmethod
    def test_pattern(self, pattern: dict[str, Any], event: dict[str, Any]) -> bool:
        """Whether `event` matches the EventBridge `pattern`; raises PatternInvalid."""

    @abc.abstractmethod
    def deliveries(self, *, state: str | None = None, rule: str | None = None, cursor: int | None = None,
                   limit: int = 100) -> list[DeliveryPublic]:
        """Deliveries (one per event, rule and target) oldest first; `state="dead"` for dead letters."""

    @abc.abstractmethod
    def delivery(self, delivery_id: int) -> DeliveryDetail:
        """One delivery with its attempt log; raises NotFound."""

    @abc.abstractmethod
    def replay_delivery(self, delivery_id: int) -> DeliveryPublic:
        """Queue a dead delivery again (same idempotency key); raises NotFound, InvalidTransition."""

    # Administration (the admin scope over HTTP; the database's owner embedded).
    @abc.abstractmethod
    def users(self) -> list[UserPublic]:
        """Users and their groups; raises PermissionDenied."""

    @abc.abstractmethod
    def add_user(self, name: str, *, groups: list[str] | None = None, email: str | None = None,
                 password: str | None = None, admin: bool = False) -> UserPublic:
        """Add a local user; raises AlreadyExists, InvalidInput, PermissionDenied."""

    @abc.abstractmethod
    def user(self, name: str) -> UserPublic:
        """One user: groups, source and state; raises NotFound, PermissionDenied."""

    @abc.abstractmethod
    def disable_user(self, name: str, *, reason: str = "") -> UserPublic:
        """Disable `name`: no sign-in, their sessions end and tokens are revoked; raises NotFound, PermissionDenied."""

    @abc.abstractmethod
    def enable_user(self, name: str) -> UserPublic:
        """Let a disabled user sign in again (revoked tokens stay revoked); raises NotFound, PermissionDenied."""

    @abc.abstractmethod
    def delete_user(self, name: str) -> UserPublic:
        """Delete `name` for good; the name is never reused. Raises NotFound, PermissionDenied."""

    @abc.abstractmethod
    def set_user_groups(self, name: str, groups: list[str]) -> UserPublic:
        """Replace a local user's groups; raises NotFound, InvalidInput, PermissionDenied."""

    @abc.abstractmethod
    def set_user_password(self, name: str, password: str) -> UserPublic:
        """Set a local user's password (their web sessions end); raises InvalidInput, NotFound, PermissionDenied."""

    @abc.abstractmethod
    def tokens(self, *, user: str | None = None) -> list[TokenPublic]:
        """API tokens (never their secret), oldest first; raises PermissionDenied."""

    @abc.abstractmethod
    def create_token(self, user: str, scopes: list[str], *, expires_in: timedelta | None = None,
                     name: str = "") -> TokenCreated:
        """A new token for `user`; `result["token"]` is the only copy of it. Raises NotFound, InvalidInput."""

    @abc.abstractmethod
    def revoke_token(self, token_id: int) -> TokenPublic:
        """Revoke a token; raises NotFound, PermissionDenied."""

    @abc.abstractmethod
    def aws_keys(self, *, user: str | None = None) -> list[AwsKeyPublic]:
        """AWS access keys (never their secret), oldest first; raises PermissionDenied."""

    @abc.abstractmethod
    def create_aws_key(self, user: str, *, scopes: list[str] | None = None, expires_in: timedelta | None = None,
                       name: str = "") -> AwsKeyCreated:
        """A new AWS key pair acting as `user`; `result["secret_access_key"]` is the only copy of the secret.
        Raises NotFound, InvalidInput, PermissionDenied."""

    @abc.abstractmethod
    def revoke_aws_key(self, key: int | str) -> AwsKeyPublic:
        """Revoke an AWS key by id or access key id; raises NotFound, PermissionDenied."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "BaseClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class DerivedMethods(BaseClient, abc.ABC):
    """The methods both transports build from others the same way, written once. BaseClient keeps
    declaring them abstract (it is the contract); both transports derive from this class, and the
    SDK contract test still exercises each of these through both."""

    def status(self, model: str) -> list[VersionPublic]:
        return self.versions(model, limit=50)

    def open_request(self, model: str, version: int, env: str) -> ApprovalRequestPublic:
        found = self.requests(state="open", env=env, model=model, version=version, limit=1)
        if not found:
            from signoff.errors import InvalidTransition

            raise InvalidTransition(f"no open approval request for version {version} of {model!r} in {env}",
                                    details={"model": model, "version": version, "env": env})
        return found[0]

    def approve(self, model: str, version: int, env: str, comment: str = "", *,
                password: str | None = None, meaning: str | None = None) -> ApprovalRequestPublic:
        return self.decide(self.open_request(model, version, env)["id"], "approve", comment, password=password,
                           meaning=meaning)

    def reject(self, model: str, version: int, env: str, comment: str, *,
               password: str | None = None) -> ApprovalRequestPublic:
        return self.decide(self.open_request(model, version, env)["id"], "reject", comment, password=password)

    def attestation(self, model: str, version: int, env: str) -> Record:
        found = self.attestations(model, version, env=env)
        if not found:
            from signoff.errors import NotFound

            raise NotFound(f"no attestation for version {version} of {model!r} in {env}",
                           details={"model": model, "version": version, "env": env})
        envelope = found[0]["envelope"]
        # Both transports hand over nested objects as Records already.
        return envelope if isinstance(envelope, Record) else record_of(envelope)

    def test_pattern(self, pattern: dict[str, Any], event: dict[str, Any]) -> bool:
        # Evaluated where the client runs, by either transport: the pattern language is pure
        # (domain/rules.py) and a pipeline may test a pattern without the rules scope.
        from signoff.domain.rules import test_pattern

        return test_pattern(pattern, event)
