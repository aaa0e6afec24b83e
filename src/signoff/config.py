"""Settings: `signoff.toml` plus `SIGNOFF_*` environment variables, read once per process.

Settings are built in an entrypoint and handed down through ``bootstrap``; nothing reads
them at import time, so tests build their own without patching globals.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
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
    drift_psi_threshold: float = 0.2
    drift_ks_pvalue: float = 0.01


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
        for env in self.order:
            raw = extra.get(env, {})
            try:
                out[env] = PolicySettings.model_validate(raw)
            except ValidationError as exc:
                raise _config_error(exc, prefix=f"environments.{env}") from None
        return out


class UserSettings(_Strict):
    """A user declared in config (until real accounts exist, and for small teams)."""

    groups: list[str] = Field(default_factory=list)
    email: str | None = None
    password: SecretStr | None = None
    admin: bool = False


class ServerSettings(_Strict):
    public_url: str = "http://127.0.0.1:8080"
    secret_key: SecretStr = SecretStr("changethis")
    anonymous_resolve: bool = False
    max_body_bytes: int = 1_048_576
    # How long a verified API token is trusted without a database read (revocation delay bound).
    token_cache_seconds: float = Field(default=5.0, ge=0, le=300)


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


class Settings(BaseSettings):
    """Everything configurable. `SIGNOFF_DATABASE_URL`, `SIGNOFF_SMTP__HOST`, …"""

    model_config = SettingsConfigDict(
        env_prefix="SIGNOFF_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Path(".signoff")
    database_url: str = ""
    artifact_root: str = ""
    environments: EnvironmentsSettings = Field(default_factory=EnvironmentsSettings)
    users: dict[str, UserSettings] = Field(default_factory=dict)
    server: ServerSettings = Field(default_factory=ServerSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    rules: list[dict[str, Any]] = Field(default_factory=list)
    emergency_group: str = "emergency"

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
    return settings
