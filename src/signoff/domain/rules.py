"""Rules as data: a name, an EventBridge pattern, and the targets an event that matches goes to.

Targets are a pydantic discriminated union on ``type`` (as Prefect models its automation
actions), so a rule read from ``signoff.toml``, the API or the database is checked the same
way. Matching is pure: :func:`plan` turns one event and the enabled rules into the deliveries
it needs, each with an idempotency key that is stable per (event, rule, target), so fanning an
event out twice never makes two deliveries and receivers can drop duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from signoff.domain import events
from signoff.domain.patterns import CompiledPattern, compile_pattern, validate_pattern
from signoff.errors import InvalidInput, PatternInvalid

RULE_NAME = r"^[a-z0-9][a-z0-9._-]{0,127}$"
PYTHON_REF = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
REDACTED = "***"
RECIPIENT = r"^(registrant|requester|actor|approvers|user:[a-z0-9][a-z0-9._-]*|group:[a-z0-9][a-z0-9._-]*|[^@\s]+@[^@\s]+)$"


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestApprovalTarget(_Target):
    """Open the approval request for the event's version in `env` (default: the first environment)."""

    type: Literal["request_approval"]
    env: str | None = None


class RequestPromotionTarget(_Target):
    """Open the promotion request for the event's version in `env` (default: the event's `next_env`)."""

    type: Literal["request_promotion"]
    env: str | None = None


Recipient = Annotated[str, Field(max_length=320, pattern=RECIPIENT)]


class EmailTarget(_Target):
    """Mail the event to `to`: addresses, `registrant`, `requester`, `approvers`, `user:NAME`, `group:NAME`."""

    type: Literal["email"]
    to: list[Recipient] = Field(default_factory=lambda: ["registrant"], min_length=1, max_length=50)
    subject: str | None = Field(default=None, max_length=300)


EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]
URL_PATTERN = r"^https?://[^/\s?#]+([/?#]\S*)?$"


class _HttpTarget(_Target):
    url: str | None = Field(default=None, max_length=2048, pattern=URL_PATTERN)
    # The URL from an environment variable, read at send time: for a URL that is itself the
    # credential (a Slack incoming webhook), kept out of the database altogether.
    url_env: EnvName | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _one_url(self) -> _HttpTarget:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        return self


HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")]


class WebhookTarget(_HttpTarget):
    """POST the CloudEvent, signed with HMAC-SHA256 when a secret (or the env var holding it) is set.

    Secrets are write-only: `secret`, every `headers` value, a password in the URL, secret-looking
    query values and the path of a Slack URL are stored apart from the target and shown as ***.
    `secret_env` and `headers_env` name environment variables the sender reads at send time.
    """

    type: Literal["webhook"]
    secret: str | None = Field(default=None, max_length=512)
    secret_env: EnvName | None = None
    headers: dict[HeaderName, Annotated[str, Field(max_length=1024, pattern=r"^[^\r\n]*$")]] = Field(
        default_factory=dict, max_length=20)
    headers_env: dict[HeaderName, EnvName] = Field(default_factory=dict, max_length=20)

    @model_validator(mode="after")
    def _one_source_per_header(self) -> WebhookTarget:
        twice = {h.lower() for h in self.headers} & {h.lower() for h in self.headers_env}
        if twice:
            raise ValueError(f"headers_env names {', '.join(sorted(twice))}, which headers already sets")
        return self
    # "aws": post the event as SageMaker/SSM would put it on EventBridge (domain/aws_events.py),
    # one request per AWS event, nothing for events AWS has no counterpart for.
    format: Literal["cloudevents", "aws"] = "cloudevents"


class SlackTarget(_HttpTarget):
    """A readable message with a link, posted to a Slack incoming-webhook URL."""

    type: Literal["slack"]


class PythonTarget(_Target):
    """Call `package.module:function(event)` with the CloudEvent, like a Lambda handler."""

    type: Literal["python"]
    function: str = Field(max_length=512, pattern=PYTHON_REF)


class MlflowTarget(_Target):
    """The MLflow bridge (`[mlflow]`): take in MLflow registry events, move aliases and tags."""

    type: Literal["mlflow"]


Target = Annotated[
    Union[RequestApprovalTarget, RequestPromotionTarget, EmailTarget, WebhookTarget, SlackTarget, PythonTarget,
          MlflowTarget],
    Field(discriminator="type"),
]
TARGET_TYPES = ("request_approval", "request_promotion", "email", "webhook", "slack", "python", "mlflow")
# Built-in actions change signoff's own state: they run inside the transaction that completes
# their delivery, so each takes effect exactly once.
TRANSACTIONAL_TYPES = frozenset({"request_approval", "request_promotion"})
_TARGET = TypeAdapter(Target)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=RULE_NAME)
    description: str = Field(default="", max_length=2000)
    enabled: bool = True
    pattern: dict[str, Any]
    targets: list[Target] = Field(min_length=1, max_length=20)

    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude_none=True)
        if redact:
            out["targets"] = [public_target(t) for t in out["targets"]]
        return out

    def split_targets(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The targets as shown (secrets redacted) and, index for index, the secrets taken out."""
        pairs = [split_target(t.model_dump(mode="json", exclude_none=True)) for t in self.targets]
        return [p for p, _ in pairs], [s for _, s in pairs]


# --- secrets in targets -------------------------------------------------------------------
# A target is kept in two parts: the public form (what anyone may read: API, pages, audit,
# CLI) and its secrets, which only the sender joins back. Header values are all secret: a
# header is set on a webhook for authentication far more often than for anything else.

_SECRET_QUERY = re.compile(r"(?i)(token|key|secret|pass|pwd|sig|auth|cred|code|session|hash|hmac|jwt)")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-.~%+/=]{24,}")
_SECRET_PATH_HOSTS = ("hooks.slack.com", "discord.com", "discordapp.com", "webhook.office.com")


def _redact_url(url: str, *, secret_path: bool) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{REDACTED}@{hostport}" if colon else f"{REDACTED}@{hostport}"
    host = (parts.hostname or "").lower()
    path = parts.path
    if path and (secret_path or any(host == h or host.endswith("." + h) for h in _SECRET_PATH_HOSTS)):
        first = path.strip("/").split("/", 1)[0]
        path = f"/{first}/{REDACTED}" if "/" in path.strip("/") else f"/{REDACTED}"
    query = "&".join(_redact_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
    fragment = REDACTED if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def _redact_pair(pair: str) -> str:
    name, eq, value = pair.partition("=")
    if eq and value and (_SECRET_QUERY.search(name) or _TOKEN_LIKE.fullmatch(value)):
        return f"{name}={REDACTED}"
    return pair


def split_target(target: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public form, secrets) of one target as JSON; secrets is empty when there are none."""
    public, secrets = dict(target), {}
    if isinstance(target.get("secret"), str) and target["secret"] != REDACTED:
        secrets["secret"] = target["secret"]
        public["secret"] = REDACTED
    headers = target.get("headers")
    if isinstance(headers, dict) and headers:
        real = {k: v for k, v in headers.items() if v != REDACTED}
        if real:
            secrets["headers"] = real
        public["headers"] = {k: REDACTED for k in headers}
    url = target.get("url")
    if isinstance(url, str):
        shown = _redact_url(url, secret_path=target.get("type") == "slack")
        if shown != url:
            secrets["url"] = url
            public["url"] = shown
    return public, secrets


def public_target(target: dict[str, Any]) -> dict[str, Any]:
    """The target as anyone may see it (idempotent: a public form stays as it is)."""
    return split_target(target)[0]


def join_target(public: dict[str, Any], secrets: dict[str, Any] | None) -> dict[str, Any]:
    """The whole target, for the code that sends it: the public form with its secrets put back."""
    target = dict(public)
    for key, value in (secrets or {}).items():
        target[key] = {**target.get(key, {}), **value} if key == "headers" else value
    return target


def python_target_allowed(function: str, prefixes: Collection[str]) -> bool:
    """Whether `package.module:function` lies under one of the module `prefixes` (whole names only)."""
    module = function.partition(":")[0]
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def check_python_targets(rule: Rule, prefixes: Collection[str]) -> None:
    """Raise InvalidInput unless every `python` target of `rule` is under an allowed prefix."""
    for index, target in enumerate(rule.targets):
        if isinstance(target, PythonTarget) and not python_target_allowed(target.function, prefixes):
            field = f"targets[{index}].function"
            allowed = ", ".join(prefixes) if prefixes else "nothing (the default)"
            raise InvalidInput(
                f"rule {rule.name!r}: {field}: {target.function} is not under a module prefix listed in "
                f"[events] python_targets (it allows {allowed})",
                details={"field": field, "rule": rule.name, "allowed": list(prefixes)})


def parse_target(data: Any) -> Any:
    """One target from JSON-shaped data; raises InvalidInput naming the offending field."""
    try:
        return _TARGET.validate_python(data)
    except ValidationError as exc:
        raise _invalid(exc, "target") from None


def parse_rule(data: Any) -> Rule:
    """A rule from JSON-shaped data; raises PatternInvalid (with the JSON path) or InvalidInput."""
    if not isinstance(data, dict):
        raise InvalidInput("a rule must be an object with name, pattern and targets", details={"field": "rule"})
    if "pattern" in data:
        try:
            validate_pattern(data["pattern"])
        except PatternInvalid as exc:
            name = data.get("name")
            raise PatternInvalid(
                f"rule {name!r}: invalid pattern at {exc.message}" if name else f"invalid pattern at {exc.message}",
                details={**exc.details, "field": "pattern", "rule": name},
            ) from None
    try:
        return Rule.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, "rule", name=data.get("name")) from None


def _invalid(exc: ValidationError, what: str, name: Any = None) -> InvalidInput:
    first = exc.errors()[0]
    loc = first["loc"]
    # Drop the union tag pydantic inserts (`targets.0.webhook.url` → `targets[0].url`).
    parts = [p for i, p in enumerate(loc)
             if not (p in TARGET_TYPES and (i == 0 or isinstance(loc[i - 1], int)))]
    field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(parts))
    field = field or what
    prefix = f"rule {name!r}: " if name else ""
    return InvalidInput(f"{prefix}{field}: {first['msg']}", details={"field": field, "rule": name})


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    pattern: CompiledPattern

    def matches(self, event: dict[str, Any]) -> bool:
        return self.pattern.matches(event)


def compile_rules(rules: list[Rule]) -> list[CompiledRule]:
    """The enabled rules, patterns compiled once for the many events they will see."""
    return [CompiledRule(r, compile_pattern(r.pattern)) for r in rules if r.enabled]


@dataclass(frozen=True)
class Planned:
    """One delivery an event needs: (event, rule, target), with its stable idempotency key."""

    key: str
    rule: str
    index: int
    target: Any


def idempotency_key(event_id: str, rule: str, index: int) -> str:
    return f"{event_id}/{rule}/{index}"


def plan(event: dict[str, Any], rules: list[CompiledRule]) -> list[Planned]:
    """The deliveries `event` (a CloudEvent as JSON) needs under `rules`, in rule order."""
    out: list[Planned] = []
    for compiled in rules:
        if compiled.matches(event):
            for index, target in enumerate(compiled.rule.targets):
                out.append(Planned(idempotency_key(str(event.get("id")), compiled.rule.name, index),
                                   compiled.rule.name, index, target))
    return out


def test_pattern(pattern: Any, event: Any) -> bool:
    """Whether `event` matches `pattern`; raises PatternInvalid (with the JSON path), InvalidInput."""
    if not isinstance(event, dict):
        raise InvalidInput("an event must be a JSON object", details={"field": "event"})
    validate_pattern(pattern)
    return compile_pattern(pattern).matches(event)


test_pattern.__dict__["__test__"] = False  # not a pytest test when a test module imports it

# The workflow itself, as rules (DESIGN.md §1 steps 4 and 9, and "decisions → the registrant").
# Users may disable or override them by name; `signoff.toml` `[[rules]]` with the same name wins.
DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "default-request-approval",
        "description": "A registered version gets an approval request for the first environment.",
        "pattern": {"source": [events.SOURCE], "type": [events.REGISTERED]},
        "targets": [{"type": "request_approval"}],
    },
    {
        "name": "default-request-promotion",
        "description": "An inference report opens the promotion request for the next environment.",
        "pattern": {"source": [events.SOURCE], "type": [events.INFERENCE_COMPLETED]},
        "targets": [{"type": "request_promotion"}],
    },
    {
        "name": "default-notify-registrant",
        "description": "Every decision on a request is mailed to whoever registered the version.",
        "pattern": {"source": [events.SOURCE], "type": [events.APPROVAL_DECIDED]},
        "targets": [{"type": "email", "to": ["registrant"]}],
    },
    # Human review: the approvers' emails with review links, reminders, expiry notices.
    {
        "name": "default-email-approvers",
        "description": "An opened approval or promotion request, and each reminder, is mailed to the "
                       "environment's approvers with a review link.",
        "pattern": {"source": [events.SOURCE], "type": [events.APPROVAL_REQUESTED, events.APPROVAL_REMINDER]},
        "targets": [{"type": "email", "to": ["approvers"]}],
    },
    {
        "name": "default-notify-expiry",
        "description": "A request that expired without its quorum is mailed to whoever registered the version.",
        "pattern": {"source": [events.SOURCE], "type": [events.APPROVAL_EXPIRED]},
        "targets": [{"type": "email", "to": ["registrant"]}],
    },
]
