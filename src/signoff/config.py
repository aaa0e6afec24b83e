"""Settings: `signoff.toml` plus `SIGNOFF_*` environment variables, read once per process.

Settings are built in an entrypoint and handed down through ``bootstrap``; nothing reads
them at import time, so tests build their own without patching globals.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import secrets
import tomllib
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from signoff.errors import InvalidInput

DEFAULT_ORDER = ["dev", "test", "uat", "prod"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicySettings(_Strict):
    """One environment's approval policy as written in `[environments.NAME]`."""

    approvers: list[str] = Field(default_factory=lambda: ["ml-reviewers"])
    required_approvals: int = Field(default=1, ge=1, le=20)
    quorum: Literal["any", "each-group"] = "any"
    registrant_may_approve: bool = False
    distinct_from_previous_stage: bool | None = None
    gates: list[str] = Field(default_factory=list)
    min_soak: str | None = None
    freeze: list[str] = Field(default_factory=list)
    request_expiry: str | None = "7d"
    remind_every: str | None = None
    auto_approve: bool = False
    require_digest: bool = True
    drift_psi_threshold: float = 0.2
    drift_ks_pvalue: float = 0.01
    # Decisions here are electronic signatures: fresh authentication at the moment of signing.
    # Unset: "reauth" when `[signing] part11 = true`, else "none".
    signature: Literal["none", "reauth"] | None = None
    meanings: list[str] = Field(default_factory=list)  # what an approval means; the signer picks one


class EnvironmentsSettings(BaseModel):
    """`[environments]`: `order` plus one sub-table per environment."""

    model_config = ConfigDict(extra="allow")
    order: list[str] = Field(default_factory=lambda: list(DEFAULT_ORDER))

    @field_validator("order")
    @classmethod
    def _order_is_sane(cls, order: list[str]) -> list[str]:
        if not order:
            raise ValueError("at least one environment is needed")
        if len(set(order)) != len(order):
            raise ValueError("environment names must be unique")
        return order

    def policies(self) -> dict[str, PolicySettings]:
        extra = self.model_extra or {}
        unknown = sorted(set(extra) - set(self.order))
        if unknown:
            raise InvalidInput(
                f"config key environments.{unknown[0]}: not in environments.order {self.order}",
                details={"key": f"environments.{unknown[0]}"},
            )
        out: dict[str, PolicySettings] = {}
        for i, env in enumerate(self.order):
            raw = extra.get(env, {})
            try:
                policy = PolicySettings.model_validate(raw)
            except ValidationError as exc:
                raise _config_error(exc, prefix=f"environments.{env}") from None
            if policy.distinct_from_previous_stage is None:
                # The last environment (prod) needs a second pair of eyes.
                policy.distinct_from_previous_stage = i == len(self.order) - 1 and len(self.order) > 1
            out[env] = policy
        return out


class UserSettings(_Strict):
    """A user declared in config (until real accounts exist, and for small teams)."""

    groups: list[str] = Field(default_factory=list)
    email: str | None = None
    password: SecretStr | None = None
    admin: bool = False


DEFAULT_SECRET_KEY = "changethis"
SECRET_KEY_BYTES = 32  # review links and session cookies are HMACs keyed with it: 256 bits


def new_secret_key() -> str:
    """A fresh `server.secret_key`: 48 random bytes, URL-safe base64 (64 characters)."""
    return secrets.token_urlsafe(48)


def _key_bytes(key: str) -> int:
    """How many bytes the key carries: hex and base64 keys count decoded, anything else as UTF-8."""
    if len(key) % 2 == 0 and re.fullmatch(r"[0-9a-fA-F]+", key):
        return len(key) // 2
    if re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", key):
        try:
            return len(base64.urlsafe_b64decode(key.replace("+", "-").replace("/", "_") + "=" * (-len(key) % 4)))
        except (binascii.Error, ValueError):
            pass
    return len(key.encode())


def secret_key_problem(key: str) -> str | None:
    """Why `key` is not fit to sign review links and cookies, or None when it is.

    A key passes with at least 32 bytes (hex and base64 decoded) that do not look made by hand:
    the characters' own entropy must reach 128 bits, and the key may be neither a repeated
    block ("abcabc…") nor mostly a run of neighbouring characters ("abcdef…", "123456…")."""
    if key == DEFAULT_SECRET_KEY:
        return f"is the default {DEFAULT_SECRET_KEY!r}"
    size = _key_bytes(key)
    if size < SECRET_KEY_BYTES:
        return f"is {size} bytes; it must be at least {SECRET_KEY_BYTES} random bytes"
    counts = Counter(key)
    bits = -sum(n * math.log2(n / len(key)) for n in counts.values())
    period = next((p for p in range(1, len(key) // 2 + 1) if key == (key[:p] * (len(key) // p + 1))[:len(key)]), None)
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in zip(key, key[1:]))
    if bits < 128 or period is not None or steps > len(key) // 2:
        return "looks hand-made (repeated or low-entropy); it must be random"
    return None


class ServerSettings(_Strict):
    public_url: str = "http://127.0.0.1:8080"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    anonymous_resolve: bool = False
    max_body_bytes: int = 1_048_576
    # How long a verified API token is trusted without a database read (revocation delay bound).
    token_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # PostgreSQL: how long a process may answer resolve from its own cache. Moves of a live
    # pointer are pushed to every process by LISTEN/NOTIFY at once; this bounds the staleness
    # when a notification is lost. 0 turns the cache off. On a SQLite file the cache is exact
    # (emptied by any commit, adapters/db/live_sqlite.py) and 0 turns it off too.
    resolve_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    # An event worker thread inside each `signoff server` process. Unset: only when `[events]
    # inline = false` (then requests return right after their commit and the thread dispatches);
    # with inline dispatch on, a second dispatcher in the same process would race it.
    worker: bool | None = None
    # `/metrics`: the figures that need a scan of the deliveries and attempts tables are
    # refreshed in the background at most this often; 0 reads them at every scrape.
    metrics_cache_seconds: float = Field(default=15.0, ge=0, le=3600)

    def require_strong_secret_key(self) -> None:
        """Raises InvalidInput unless `secret_key` is fit for a server others can reach."""
        problem = secret_key_problem(self.secret_key.get_secret_value())
        if problem is not None:
            raise InvalidInput(f"config key server.secret_key {problem}: set the output of `signoff secret-key` "
                               "as [server] secret_key or SIGNOFF_SERVER__SECRET_KEY", details={"key": "server.secret_key"})


class SmtpSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    tls: bool = False
    user: str | None = None
    password: SecretStr | None = None
    sender: str = Field(default="signoff <signoff@localhost>", alias="from")
    timeout: float = 10.0

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EventsSettings(_Strict):
    """`[events]`: how events reach the rules' targets."""

    # Dispatch in the process that committed, right after the commit: what embedded use (CLI,
    # SDK, demo) needs. With `signoff worker` processes running it may stay on (claims are
    # safe) or be turned off so API requests never wait on a webhook.
    inline: bool = True
    inline_timeout: float = Field(default=5.0, gt=0, le=120)  # cap per external attempt inline
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_base: float = Field(default=2.0, ge=0)  # seconds; attempt n waits ~base·2^(n-1)
    backoff_cap: float = Field(default=600.0, ge=0)
    lease_seconds: float = Field(default=30.0, gt=0)
    poll_interval: float = Field(default=0.05, gt=0, le=60)
    # PostgreSQL: workers wake on LISTEN/NOTIFY and poll only as a fallback, this often, while
    # their LISTEN connection is up (while it is down they poll every `poll_interval`). Turn
    # `listen` off behind a pooler that cannot hold a session (PgBouncer transaction mode);
    # resolve is then not cached either (nothing could invalidate the cache).
    listen: bool = True
    listen_poll_interval: float = Field(default=1.0, gt=0, le=300)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    # Module prefixes `python` rule targets may call (`myco.hooks` admits `myco.hooks:f` and
    # `myco.hooks.deploy:f`). Empty: no python target may be saved or run, since a rule could
    # otherwise name any importable function (`os:system`).
    python_targets: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]] = Field(
        default_factory=list)


class DatabaseSettings(_Strict):
    """`[database]`: the SQLAlchemy connection pool of each process (docs/deployment.md, §9)."""

    # Connections kept open per process, and how many more may be opened under a burst; every
    # process can hold pool_size + max_overflow, which is what max_connections must cover.
    pool_size: int = Field(default=5, ge=1, le=200)
    max_overflow: int = Field(default=10, ge=0, le=200)
    pool_timeout: float = Field(default=30.0, gt=0, le=600)  # seconds to wait for a free connection
    pool_recycle: float = Field(default=-1, ge=-1)  # seconds; -1 never (behind a proxy that drops idle ones)


class RetentionSettings(_Strict):
    """`[retention]`: what `signoff prune` (and every worker, every `interval`) deletes.

    Only operational records expire; the record of what was decided never does: audit entries,
    decisions, signatures, approval requests, versions and parameter history are not touched.
    A value of 0 keeps that kind for ever.
    """

    events_days: int = Field(default=30, ge=0)  # outbox events fanned out this long ago
    deliveries_days: int = Field(default=30, ge=0)  # succeeded deliveries (and their attempts)
    dead_letters_days: int = Field(default=90, ge=0)  # dead deliveries: replayable until then
    sessions_days: int = Field(default=7, ge=0)  # web sessions this long after they expired
    tokens_days: int = Field(default=90, ge=0)  # API tokens this long after expiry or revocation
    interval: str | None = "1h"  # how often each worker prunes; None: only `signoff prune`
    batch_size: int = Field(default=5_000, ge=1, le=1_000_000)  # rows per transaction

    @field_validator("interval")
    @classmethod
    def _interval(cls, text: str | None) -> str | None:
        if text is None or text.lower() in ("", "off", "never"):
            return None
        from signoff.domain.timespec import parse_duration

        try:
            parse_duration(text)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
        return text


# --- Directory sign-in: [auth], [auth.ldap], [auth.oidc] ------------------------------------

GroupMap = dict[str, str | list[str]]


class LdapSettings(_Strict):
    """`[auth.ldap]`: an LDAP / Active Directory server. See docs/auth.md for AD and OpenLDAP."""

    url: str | list[str] = "ldap://127.0.0.1"  # several URLs: tried in order (failover)
    start_tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    bind_dn: str | None = None  # the service account that searches for users
    bind_password: SecretStr | None = None
    user_search_base: str = ""
    user_attribute: str = "uid"  # what people type: sAMAccountName, userPrincipalName or uid
    name_attribute: str | None = None  # what becomes the signoff user name (default: user_attribute)
    user_filter: str = ""  # extra conditions, e.g. only enabled accounts
    user_dn_template: str | None = None  # direct bind without a service account: "uid={username},ou=..."
    email_attribute: str = "mail"
    display_name_attribute: str = "cn"
    active_directory: bool = False  # nested groups in one query (LDAP_MATCHING_RULE_IN_CHAIN)
    groups_from: Literal["memberOf", "search"] = "search"
    group_search_base: str = ""
    group_filter: str = "(|(objectClass=groupOfNames)(objectClass=group))"
    group_member_attribute: str = "member"
    nested_groups: bool = True
    max_nesting: int = Field(default=10, ge=1, le=50)
    group_map: GroupMap = Field(default_factory=dict)  # directory group DN -> signoff group(s)
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    receive_timeout: int = Field(default=10, ge=1, le=300)  # whole seconds (a socket option)
    pool_size: int = Field(default=4, ge=1, le=64)


class OidcSettings(_Strict):
    """`[auth.oidc]`: an OpenID Connect provider (Entra ID, Okta, Keycloak…), found by discovery."""

    issuer: str
    client_id: str
    client_secret: SecretStr | None = None
    display_name: str = "single sign-on"  # the button reads "Sign in with <display_name>"
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    username_claim: str = "preferred_username"
    strip_domain: bool = True  # "alice@corp.example.com" signs in as "alice"
    groups_claim: str = "groups"
    group_map: GroupMap = Field(default_factory=dict)  # claim value -> signoff group(s)
    redirect_url: str | None = None  # default: <server.public_url>/auth/oidc/callback
    timeout: float = Field(default=10.0, gt=0, le=120)
    tls_verify: bool = True
    ca_file: str | None = None


IdentityProvider = Literal["local", "ldap", "oidc"]


def _local_accounts_only() -> list[IdentityProvider]:
    return ["local"]


class AuthSettings(_Strict):
    """`[auth]`: which identity providers sign people in, in the order they are asked."""

    providers: list[IdentityProvider] = Field(default_factory=_local_accounts_only)
    membership_ttl: str = "5m"  # directory groups are re-checked at decision time after this long
    session_ttl: str = "12h"  # lifetime of the token `POST /api/v1/sessions` hands out
    session_scopes: list[str] = Field(default_factory=lambda: ["resolve", "report", "decide"])
    # Sign-in throttle (`limits` notation): failed sign-ins allowed per account and per client
    # address before further attempts are refused with 429 until the window ends. Counted in the
    # database, so the limits hold across every server process.
    signin_failures_per_account: str = "10 per 15 minutes"
    signin_failures_per_address: str = "100 per 15 minutes"
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client address;
    # without one, the address is the TCP peer's.
    trusted_proxies: list[str] = Field(default_factory=list)
    ldap: LdapSettings | None = None
    oidc: OidcSettings | None = None

    @field_validator("providers")
    @classmethod
    def _providers_unique(cls, providers: list[str]) -> list[str]:
        if len(set(providers)) != len(providers):
            raise ValueError("each provider may be listed once")
        return providers

    @field_validator("membership_ttl", "session_ttl")
    @classmethod
    def _duration(cls, text: str) -> str:
        from signoff.domain.timespec import parse_duration

        try:
            parse_duration(text)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
        return text

    @field_validator("signin_failures_per_account", "signin_failures_per_address")
    @classmethod
    def _rate(cls, text: str) -> str:
        from limits import parse

        try:
            item = parse(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a rate such as '10 per 15 minutes'") from None
        if item.amount < 1:
            raise ValueError("allow at least one failure per window")
        return text

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        import ipaddress

        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network") from None
        return proxies

    @model_validator(mode="after")
    def _sections_present(self) -> AuthSettings:
        for name in ("ldap", "oidc"):
            if name in self.providers and getattr(self, name) is None:
                raise ValueError(f"provider {name!r} is enabled but [auth.{name}] is missing")
        return self


class MlflowSettings(_Strict):
    """`[mlflow]`: govern an MLflow model registry in place (docs/mlflow.md).

    Credentials are not configured here: they come from MLflow's own environment variables
    (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`, or `MLFLOW_TRACKING_TOKEN`), so the
    same secrets serve the pipelines' MLflow clients and signoff.
    """

    tracking_uri: str = Field(pattern=r"^https?://[^/\s?#]+(/\S*)?$")
    models: list[str] = Field(default_factory=lambda: ["*"])  # registered model names or globs
    aliases: dict[str, str] = Field(default_factory=dict)  # environment -> alias (default: its name)
    webhook_secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # A delivery signed longer ago than this is refused (replays of captured requests).
    webhook_max_age: float = Field(default=300.0, gt=0, le=86_400)
    # Tag the MLflow version on every approval: `signoff.<env>`, `signoff.<env>.approved_by`, …
    tags: bool = True
    # Who registered a version in signoff when MLflow does not say (its `user_id` is empty).
    registrant: str = "mlflow"
    poll_interval: float = Field(default=10.0, gt=0, le=3600)  # `signoff mlflow sync --watch`
    timeout: float = Field(default=10.0, gt=0, le=120)
    # Hash the artifact (local path or fsspec URL) so approvals bind to its bytes.
    digest: bool = True

    def alias_for(self, env: str) -> str:
        return self.aliases.get(env, env)


class AwsSettings(_Strict):
    """`[aws]`: the AWS-compatible doors (SSM Parameter Store and SageMaker Model Registry APIs)."""

    enabled: bool = True
    # The region and account signoff answers as: requests must be signed for this region, and
    # ARNs (parameters, model packages) carry both.
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    account_id: str = Field(default="000000000000", pattern=r"^[0-9]{12}$")
    max_clock_skew_seconds: int = Field(default=900, ge=30, le=3600)  # AWS allows 15 minutes
    key_cache_seconds: float = Field(default=5.0, ge=0, le=300)


class SigningSettings(_Strict):
    """`[signing]`: the server's Ed25519 keys (adapters/keys.py) and electronic signatures."""

    key_file: Path | None = None  # default: <home>/signing-key.json, created on first start
    key: SecretStr | None = None  # SIGNOFF_SIGNING__KEY: the key file's JSON or a PEM private key
    part11: bool = False  # every environment's decisions are electronic signatures (reauth)
    reauth_seconds: int = Field(default=120, ge=10, le=3600)
    lock_after: int = Field(default=5, ge=1, le=100)  # failed re-authentications before signing locks
    lock_seconds: int = Field(default=900, ge=10, le=86400)  # for how long, counted from the last failure


class AuditSettings(_Strict):
    """`[audit]`: signed checkpoints of the chain head and scheduled verification (by workers)."""

    checkpoint_every: str = "1h"
    verify_every: str = "1h"

    @field_validator("checkpoint_every", "verify_every")
    @classmethod
    def _duration(cls, text: str) -> str:
        from signoff.domain.timespec import parse_duration

        try:
            parse_duration(text)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
        return text


class Settings(BaseSettings):
    """Everything configurable. `SIGNOFF_DATABASE_URL`, `SIGNOFF_SMTP__HOST`, …"""

    model_config = SettingsConfigDict(
        env_prefix="SIGNOFF_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Path(".signoff")
    database_url: str = ""
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    artifact_root: str = ""
    environments: EnvironmentsSettings = Field(default_factory=EnvironmentsSettings)
    users: dict[str, UserSettings] = Field(default_factory=dict)
    server: ServerSettings = Field(default_factory=ServerSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    events: EventsSettings = Field(default_factory=EventsSettings)
    emergency_group: str = "emergency"
    auth: AuthSettings = Field(default_factory=AuthSettings)
    mlflow: MlflowSettings | None = None
    aws: AwsSettings = Field(default_factory=AwsSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments (the parsed TOML file) win over nothing; env vars win over both.
        return (env_settings, init_settings)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'signoff.db'}"

    def resolved_artifact_root(self) -> str:
        return self.artifact_root or str(self.home / "artifacts")


def _config_error(exc: ValidationError, *, prefix: str = "") -> InvalidInput:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if prefix:
        key = f"{prefix}.{key}" if key else prefix
    return InvalidInput(f"config key {key}: {first['msg']}", details={"key": key})


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The TOML file to read: explicit, `$SIGNOFF_CONFIG`, or `./signoff.toml` if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("SIGNOFF_CONFIG")
    if env:
        return Path(env)
    default = Path("signoff.toml")
    return default if default.exists() else None


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the config file and the environment once; a bad key raises InvalidInput naming it."""
    data: dict[str, Any] = {}
    file = config_path(path)
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInput(f"config file {file} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"config file {file}: {exc}") from None
    data.update(overrides)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise _config_error(exc) from None
    settings.environments.policies()  # validate now so a bad policy names its key at start-up
    if settings.mlflow is not None:
        unknown = sorted(set(settings.mlflow.aliases) - set(settings.environments.order))
        if unknown:
            raise InvalidInput(f"config key mlflow.aliases.{unknown[0]}: not in environments.order",
                               details={"key": f"mlflow.aliases.{unknown[0]}"})
    return settings
