"""Rules as data: a name, an EventBridge pattern, and the targets an event that matches goes to.

Targets are a pydantic discriminated union on ``type`` (as Prefect models its automation
actions), so a rule read from ``signoff.toml``, the API or the database is checked the same
way. Matching is pure: :func:`plan` turns one event and the enabled rules into the deliveries
it needs, each with an idempotency key that is stable per (event, rule, target), so fanning an
event out twice never makes two deliveries and receivers can drop duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

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


class _HttpTarget(_Target):
    url: str = Field(max_length=2048, pattern=r"^https?://[^/\s?#]+([/?#]\S*)?$")
    timeout: float = Field(default=10.0, gt=0, le=120)


HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")]


class WebhookTarget(_HttpTarget):
    """POST the CloudEvent, signed with HMAC-SHA256 when a secret (or the env var holding it) is set."""

    type: Literal["webhook"]
    secret: str | None = Field(default=None, max_length=512)
    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)
    headers: dict[HeaderName, Annotated[str, Field(max_length=1024, pattern=r"^[^\r\n]*$")]] = Field(
        default_factory=dict, max_length=20)
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


Target = Annotated[
    Union[RequestApprovalTarget, RequestPromotionTarget, EmailTarget, WebhookTarget, SlackTarget, PythonTarget],
    Field(discriminator="type"),
]
TARGET_TYPES = ("request_approval", "request_promotion", "email", "webhook", "slack", "python")
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
            for target in out["targets"]:
                if target.get("secret"):
                    target["secret"] = REDACTED
        return out


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


test_pattern.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported

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
    # Issue 6 (human review): the approvers' emails with review links, reminders, expiry notices.
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
