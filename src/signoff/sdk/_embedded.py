"""The in-process transport: the same client methods, calling the services directly."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from collections.abc import Iterable
from typing import Any, TypeVar, Unpack

from signoff.adapters.artifacts import ArtifactStore
from signoff.bootstrap import Context, bootstrap
from signoff.config import Settings
from signoff.domain.identity import ANONYMOUS
from signoff.errors import AuthenticationFailed
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
from signoff.services import accounts, approvals, deliveries, drift, esign, inference, lifecycle, queries, people, registry
from signoff.services import aws_keys as aws_key_service
from signoff.services import rules as rule_service
from signoff.services import artifacts as artifact_service
from signoff.services import tokens as token_service
from signoff.services import attestations as attestation_service
from signoff.services import audit_anchor


R = TypeVar("R", bound=Result)


def _as(model: type[R], data: Any) -> R:
    return model.model_validate(data)


def _all(model: type[R], items: Iterable[Any]) -> list[R]:
    return [model.model_validate(item) for item in items]


# The audit log's name for the database's owner acting through the CLI.
OWNER = "signoff:cli"


class EmbeddedClient(DerivedMethods):
    """Acts as `actor`, an existing, enabled user (or one declared in `[users.*]`); with no actor it only reads.

    Raises AuthenticationFailed for an unknown, disabled or deleted actor.
    """

    def __init__(self, *, actor: str | None, settings: Settings | None = None, context: Context | None = None,
                 dispatch_inline: bool | None = None, as_owner: bool = False) -> None:
        self.ctx = context or bootstrap(settings)
        self._owns_context = context is None
        # The database's owner acts without an account (whoever can open the database owns it), as
        # `signoff users` and `signoff tokens` do on a local database: the first user is made so.
        self._actor = OWNER if as_owner else actor
        if actor is not None and not as_owner:
            try:
                _check_actor(self.ctx, actor)
            except BaseException:
                self.close()
                raise
        # Events are dispatched right after each commit unless a worker is trusted to do it
        # (None keeps the context's choice, `[events] inline` in the settings).
        if dispatch_inline is not None:
            self.ctx.dispatch_inline = dispatch_inline

    @property
    def actor(self) -> str:
        """The acting user; raises AuthenticationFailed when this client was made to read only."""
        if self._actor is None:
            raise AuthenticationFailed("this embedded client has no acting user, so it can only read: name one "
                                       "with actor=... (SDK), --as NAME (CLI) or $SIGNOFF_USER")
        return self._actor

    def _kw(self) -> dict[str, Any]:
        return {"uow": self.ctx.uow(), "workflow": self.ctx.workflow}

    def register(self, model: str, artifact_uri: str, **options: Unpack[RegisterOptions]) -> VersionPublic:
        """Register the next version; the artifact is stored by digest (`store=None`: when it exists here).

        `reference` (training data as a DataFrame, array, CSV/Parquet path, or a profile) becomes the
        version's reference profile for drift. Raises InvalidInput, NotFound (store=True, missing).
        """
        fields = register_options(options)
        store, reference = fields.pop("store", None), fields.pop("reference", None)
        if reference is not None:
            from signoff.inference._profile import reference_profile

            fields["reference_profile"] = reference_profile(reference)
        details = registry.registration_details(model=model, actor=self.actor, reference_source="sdk",
                                                fields={**fields, "artifact_uri": artifact_uri})
        registered = registry.register(**self._kw(), store=store, artifact_store=self._artifact_store(), **details)
        return _as(VersionPublic, registered.to_dict())

    def _artifact_store(self) -> ArtifactStore:
        return ArtifactStore(self.ctx.settings.resolved_artifact_root())

    def set_reference(self, model: str, version: int, reference: Any) -> Record:
        """Attach training data (DataFrame, array, CSV/Parquet path, or a profile) as the drift reference."""
        from signoff.inference._profile import reference_profile

        profile = reference_profile(reference)
        drift.set_reference(uow=self.ctx.uow(), workflow=self.ctx.workflow, model=model, version=version, profile=profile or {},
                            actor=self.actor, source="sdk")
        return record_of({"model": model, "version": version, "features": sorted((profile or {}).get("features", {}))})

    def models(self, *, cursor: str | None = None, limit: int = 100) -> list[ModelPublic]:
        return _all(ModelPublic, [m.to_dict() for m in registry.list_models(uow=self.ctx.read_uow(), after=cursor, limit=limit)])

    def model(self, name: str) -> ModelPublic:
        return _as(ModelPublic, registry.get_model(uow=self.ctx.read_uow(), model=name).to_dict())

    def versions(self, model: str, *, cursor: int | None = None, limit: int = 100) -> list[VersionPublic]:
        return _all(VersionPublic, [v.to_dict() for v in registry.list_versions(**self._kw(), model=model, before=cursor, limit=limit)])

    def version(self, model: str, version: int) -> VersionPublic:
        return _as(VersionPublic, registry.get_version(**self._kw(), model=model, version=version).to_dict())

    def request_promotion(self, model: str, version: int, env: str, *, reason: str = "") -> ApprovalRequestPublic:
        r = approvals.request_promotion(**self._kw(), model=model, version=version, env=env, actor=self.actor, reason=reason)
        return _as(ApprovalRequestPublic, r.to_dict())

    def requests(self, *, state: str | None = None, env: str | None = None, model: str | None = None,
                 version: int | None = None, cursor: int | None = None, limit: int = 100) -> list[ApprovalRequestPublic]:
        rs = approvals.list_requests(**self._kw(), state=state, env=env, model=model, version=version,
                                     after=cursor, limit=limit)
        return _all(ApprovalRequestPublic, [r.to_dict() for r in rs])

    def request(self, request_id: int) -> ApprovalRequestPublic:
        r = approvals.get_request(**self._kw(), request_id=request_id).to_dict()
        return _as(ApprovalRequestPublic, esign.with_signatures(uow=self.ctx.uow(), requests=[r])[0])

    def decide(self, request_id: int, decision: str, comment: str = "", *, password: str | None = None,
               meaning: str | None = None) -> ApprovalRequestPublic:
        rules = esign.SigningRules.of(self.ctx.settings.signing)
        reauth = None
        if password is not None:
            from signoff.adapters.identity import directory_for

            reauth = esign.reauthenticate_password(uow_factory=self.ctx.uow, directory=directory_for(self.ctx),
                                                   user=self.actor, password=password, rules=rules, meaning=meaning)
        r = approvals.decide(**self._kw(), request_id=request_id, actor=self.actor, verdict=decision, comment=comment,
                             reauth=reauth, signing=rules)
        return _as(ApprovalRequestPublic, esign.with_signatures(uow=self.ctx.uow(), requests=[r.to_dict()])[0])

    def resolve(self, model: str, env: str) -> Resolved:
        live = queries.resolve(reader=self.ctx.reader, workflow=self.ctx.workflow, model=model, env=env)
        return Resolved.of(live.to_dict(), cache_dir=Path(self.ctx.settings.home) / "cache",
                           on_mismatch=self._refused_load)

    def _refused_load(self, live: Resolved, exc: Exception) -> None:
        details = getattr(exc, "details", {})
        artifact_service.record_mismatch(uow=self.ctx.uow(), model=live["model"], version=live["version"],
                                         env=live.get("env"), uri=live["artifact_uri"],
                                         expected=details.get("expected_digest"), actual=details.get("digest"),
                                         actor=self._actor or ANONYMOUS.name)

    def rollback(self, model: str, env: str, *, to_version: int | None = None, reason: str = "") -> Record:
        return record_of(lifecycle.rollback(**self._kw(), model=model, env=env, actor=self.actor, to_version=to_version,
                                            reason=reason))

    def revoke(self, model: str, version: int, env: str, *, reason: str, only_env: bool = False) -> Record:
        return record_of(lifecycle.revoke(**self._kw(), model=model, version=version, env=env, actor=self.actor,
                                          reason=reason, only_env=only_env))

    def break_glass(self, model: str, version: int, env: str, *, justification: str) -> Record:
        return record_of(lifecycle.break_glass(**self._kw(), model=model, version=version, env=env, actor=self.actor,
                                               justification=justification,
                                               emergency_group=self.ctx.settings.emergency_group))

    def report_inference(self, model: str, version: int, env: str, *, metrics: dict[str, Any], rows: int = 0,
                         started_at: datetime | None = None, finished_at: datetime | None = None,
                         profile: dict[str, Any] | None = None) -> InferenceReportPublic:
        report, request = inference.report_inference(
            **self._kw(), model=model, version=version, env=env, actor=self.actor, metrics=metrics, rows=rows,
            started_at=started_at, finished_at=finished_at, profile=profile)
        return _as(InferenceReportPublic, {**report, "promotion_request": request.to_dict() if request else None})

    def parameter(self, name: str, version: int | None = None) -> ParameterPublic:
        return _as(ParameterPublic, queries.get_parameter(uow=self.ctx.uow(), name=name, version=version))

    def parameter_history(self, name: str) -> list[ParameterPublic]:
        return _all(ParameterPublic, queries.parameter_history(uow=self.ctx.uow(), name=name, limit=10_000))

    def audit(self, *, model: str | None = None, since: datetime | None = None, cursor: int | None = None,
              limit: int = 100) -> list[AuditEntryPublic]:
        entries = queries.list_audit(uow=self.ctx.uow(), model=model, since=since, after=cursor, limit=limit)
        return _all(AuditEntryPublic, [e.to_dict() for e in entries])

    def verify_audit(self, checkpoints: list[dict[str, Any]] | None = None) -> AuditReport:
        return _as(AuditReport, audit_anchor.verify_audit(uow=self.ctx.uow(), keys=self.ctx.keys, checkpoints=checkpoints,
                                                by=self._actor or ANONYMOUS.name,
                                                workflow=self.ctx.workflow))

    def audit_checkpoint(self) -> Record:
        return record_of(audit_anchor.create_checkpoint(uow=self.ctx.uow(), keys=self.ctx.keys))

    def public_keys(self) -> Record:
        return record_of(self.ctx.keys.public_keyset() if self.ctx.keys is not None else {"keys": []})

    def revocations(self) -> Record:
        from signoff.services import revocations

        return record_of(revocations.revocation_list(uow=self.ctx.read_uow(), keys=self.ctx.keys))

    def evidence(self, model: str, version: int) -> Record:
        from signoff.services import evidence_pack as evidence

        return record_of(evidence.build_pack(uow_factory=self.ctx.uow, workflow=self.ctx.workflow, keys=self.ctx.keys,
                                             model=model, version=version, actor=self.actor))

    def attestations(self, model: str, version: int, *, env: str | None = None) -> list[Record]:
        return [record_of(a) for a in
                attestation_service.list_attestations(**self._kw(), model=model, version=version, env=env)]

    def events(self, *, type: str | None = None, cursor: int | None = None, limit: int = 100) -> list[EventPublic]:
        return _all(EventPublic, queries.list_events(uow=self.ctx.uow(), type=type, after=cursor, limit=limit))

    def rules(self) -> list[RulePublic]:
        return _all(RulePublic, rule_service.list_rules(uow=self.ctx.uow()))

    def rule(self, name: str) -> RulePublic:
        return _as(RulePublic, rule_service.get_rule(uow=self.ctx.uow(), name=name))

    def add_rule(self, name: str, pattern: dict[str, Any], targets: list[dict[str, Any]], *,
                 description: str = "", enabled: bool = True) -> RulePublic:
        spec = {"name": name, "pattern": pattern, "targets": targets, "description": description, "enabled": enabled}
        return _as(RulePublic, rule_service.add_rule(uow=self.ctx.uow(), spec=spec, actor=self.actor,
                                            python_targets=self.ctx.settings.events.python_targets))

    def set_rule_enabled(self, name: str, enabled: bool) -> RulePublic:
        return _as(RulePublic, rule_service.set_enabled(uow=self.ctx.uow(), name=name, enabled=enabled, actor=self.actor))

    def deliveries(self, *, state: str | None = None, rule: str | None = None, cursor: int | None = None,
                   limit: int = 100) -> list[DeliveryPublic]:
        return _all(DeliveryPublic, deliveries.list_deliveries(uow=self.ctx.uow(), state=state, rule=rule, after=cursor, limit=limit))

    def delivery(self, delivery_id: int) -> DeliveryDetail:
        return _as(DeliveryDetail, deliveries.get_delivery(uow=self.ctx.uow(), delivery_id=delivery_id))

    def replay_delivery(self, delivery_id: int) -> DeliveryPublic:
        return _as(DeliveryPublic, deliveries.replay_and_drain(uow_factory=self.ctx.uow, delivery_id=delivery_id, actor=self.actor,
                                                drain=self.ctx.inline_drain))

    # Administration: whoever can open the database owns it, as `signoff users` / `tokens` do locally.

    def users(self) -> list[UserPublic]:
        return _all(UserPublic, accounts.list_users(uow=self.ctx.uow()))

    def add_user(self, name: str, *, groups: list[str] | None = None, email: str | None = None,
                 password: str | None = None, admin: bool = False) -> UserPublic:
        from signoff.adapters.passwords import hash_password

        return _as(UserPublic, accounts.add_user(uow=self.ctx.uow(), name=name, actor=self.actor, groups=list(groups or []),
                                        email=email, password_hash=hash_password(password) if password else None,
                                        admin=admin))

    def user(self, name: str) -> UserPublic:
        return _as(UserPublic, accounts.get_user(uow=self.ctx.uow(), name=name))

    def disable_user(self, name: str, *, reason: str = "") -> UserPublic:
        return _as(UserPublic, people.disable_user(uow=self.ctx.uow(), name=name, actor=self.actor, reason=reason))

    def enable_user(self, name: str) -> UserPublic:
        return _as(UserPublic, people.enable_user(uow=self.ctx.uow(), name=name, actor=self.actor))

    def delete_user(self, name: str) -> UserPublic:
        return _as(UserPublic, people.delete_user(uow=self.ctx.uow(), name=name, actor=self.actor))

    def set_user_groups(self, name: str, groups: list[str]) -> UserPublic:
        return _as(UserPublic, accounts.set_groups(uow=self.ctx.uow(), name=name, groups=list(groups), actor=self.actor))

    def set_user_password(self, name: str, password: str) -> UserPublic:
        from signoff.adapters.passwords import hash_password

        checked = people.check_password(password)
        return _as(UserPublic, people.set_password(uow=self.ctx.uow(), name=name, password_hash=hash_password(checked),
                                          actor=self.actor))

    def tokens(self, *, user: str | None = None) -> list[TokenPublic]:
        return _all(TokenPublic, token_service.list_tokens(uow=self.ctx.uow(), user=user))

    def create_token(self, user: str, scopes: list[str], *, expires_in: timedelta | None = None,
                     name: str = "") -> TokenCreated:
        token, info = token_service.create_token(uow=self.ctx.uow(), user=user, scopes=list(scopes), actor=self.actor,
                                                 expires_in=expires_in, name=name)
        return _as(TokenCreated, {**info, "token": token})

    def revoke_token(self, token_id: int) -> TokenPublic:
        return _as(TokenPublic, token_service.revoke_token(uow=self.ctx.uow(), token_id=token_id, actor=self.actor))

    def aws_keys(self, *, user: str | None = None) -> list[AwsKeyPublic]:
        return _all(AwsKeyPublic, aws_key_service.list_keys(uow=self.ctx.uow(), user=user))

    def create_aws_key(self, user: str, *, scopes: list[str] | None = None, expires_in: timedelta | None = None,
                       name: str = "") -> AwsKeyCreated:
        from signoff.adapters.aws_secrets import SecretBox

        sealer = SecretBox(self.ctx.settings.server.secret_key.get_secret_value())
        secret, info = aws_key_service.create_key(uow=self.ctx.uow(), sealer=sealer, user=user, actor=self.actor,
                                                  scopes=list(scopes or []), expires_in=expires_in, name=name)
        return _as(AwsKeyCreated, {**info, "secret_access_key": secret})

    def revoke_aws_key(self, key: int | str) -> AwsKeyPublic:
        which = int(key) if isinstance(key, str) and key.isdigit() else key
        return _as(AwsKeyPublic, aws_key_service.revoke_key(uow=self.ctx.uow(), key=which, actor=self.actor))

    def close(self) -> None:
        if self._owns_context:
            self.ctx.close()


def _check_actor(ctx: Context, actor: str) -> None:
    # The same test a token or a web session passes: the account exists and may act.
    with ctx.uow() as uow:
        row = uow.users.find(actor)
        if row is None or row.disabled:
            state = "unknown" if row is None else "deleted" if row.deleted_at is not None else "disabled"
            raise AuthenticationFailed(
                f"{state} user {actor!r}: embedded use acts as an existing user; add one with `signoff users add "
                f"{actor}` or declare [users.{actor}] in the config", details={"user": actor, "state": state})
