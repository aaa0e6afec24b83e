"""Rules as data, delivery outcomes and retry schedules, renderings, webhook signatures (no I/O)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from signoff.adapters.webhooks import sign, verify_signature
from signoff.domain import events
from signoff.domain.deliveries import DeliveryState, Outcome, RetryPolicy, http_outcome
from signoff.domain.notifications import render
from signoff.domain.rules import (
    DEFAULT_RULES,
    compile_rules,
    parse_rule,
    parse_target,
    plan,
    test_pattern,
)
from signoff.errors import InvalidInput, PatternInvalid

HOOK = {"type": "webhook", "url": "https://hooks.example.com/signoff", "secret": "s3cret"}


def rule(**overrides: Any) -> dict[str, Any]:
    return {"name": "deploy", "pattern": {"type": ["signoff.version.approved"]}, "targets": [HOOK], **overrides}


def event(etype: str = "signoff.version.approved", **data: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": "evt-1", "source": "signoff", "type": etype,
            "subject": "models/churn/versions/3", "data": {"model": "churn", "version": 3, "env": "prod", **data}}


class TestParsingRules:
    def test_a_rule_with_every_target_type_parses(self) -> None:
        targets = [{"type": "request_approval"}, {"type": "request_promotion", "env": "uat"},
                   {"type": "email", "to": ["registrant", "ops@example.com", "group:ml-leads"]}, HOOK,
                   {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"},
                   {"type": "python", "function": "my_pkg.handlers:on_event"}]
        parsed = parse_rule(rule(targets=targets))
        assert [t.type for t in parsed.targets] == [t["type"] for t in targets]

    def test_an_invalid_pattern_is_refused_with_its_json_path(self) -> None:
        with pytest.raises(PatternInvalid) as exc:
            parse_rule(rule(pattern={"data": {"accuracy": [{"numeric": [">", "high"]}]}}))
        assert exc.value.code == "invalid_pattern"
        assert exc.value.details["path"] == "$.data.accuracy[0].numeric[1]"
        assert "$.data.accuracy[0].numeric[1]" in exc.value.message

    @pytest.mark.parametrize(("target", "field"), [
        ({"type": "webhook", "url": "ftp://x"}, "targets[0].url"),
        ({"type": "webhook", "url": "https://x", "timeout": 0}, "targets[0].timeout"),
        ({"type": "python", "function": "no_function_here"}, "targets[0].function"),
        ({"type": "email", "to": ["somebody"]}, "targets[0].to[0]"),
        ({"type": "webhook", "url": "https://x", "surprise": 1}, "targets[0].surprise"),
    ])
    def test_a_bad_target_names_its_field(self, target: dict[str, Any], field: str) -> None:
        with pytest.raises(InvalidInput) as exc:
            parse_rule(rule(targets=[target]))
        assert exc.value.details["field"] == field

    def test_an_unknown_target_type_is_refused(self) -> None:
        with pytest.raises(InvalidInput) as exc:
            parse_target({"type": "lambda", "arn": "x"})
        assert "lambda" in exc.value.message

    @pytest.mark.parametrize("spec", [
        rule(name="Has Spaces"), rule(targets=[]), {"name": "x", "targets": [HOOK]}, "not an object",
    ])
    def test_malformed_rules_are_invalid_input(self, spec: Any) -> None:
        with pytest.raises(InvalidInput):
            parse_rule(spec)

    def test_secrets_are_redacted_on_request(self) -> None:
        assert parse_rule(rule()).to_dict(redact=True)["targets"][0]["secret"] == "***"
        assert parse_rule(rule()).to_dict()["targets"][0]["secret"] == "s3cret"

    def test_the_default_rules_are_valid_and_reproduce_the_workflow(self) -> None:
        compiled = compile_rules([parse_rule(r) for r in DEFAULT_RULES])
        routed = {t: [p.target.type for p in plan(event(t), compiled)] for t in
                  (events.REGISTERED, events.INFERENCE_COMPLETED, events.APPROVAL_DECIDED, events.VERSION_APPROVED)}
        assert routed == {events.REGISTERED: ["request_approval"], events.INFERENCE_COMPLETED: ["request_promotion"],
                          events.APPROVAL_DECIDED: ["email"], events.VERSION_APPROVED: []}


class TestPlanningDeliveries:
    def test_one_delivery_per_matching_rule_and_target_with_stable_keys(self) -> None:
        rules = compile_rules([parse_rule(rule(targets=[HOOK, {"type": "python", "function": "a.b:c"}])),
                               parse_rule(rule(name="other", pattern={"type": ["nothing"]}))])
        first, second = plan(event(), rules), plan(event(), rules)
        assert [(p.rule, p.index, p.target.type) for p in first] == [("deploy", 0, "webhook"), ("deploy", 1, "python")]
        assert [p.key for p in first] == [p.key for p in second] == ["evt-1/deploy/0", "evt-1/deploy/1"]

    def test_disabled_rules_match_nothing(self) -> None:
        assert plan(event(), compile_rules([parse_rule(rule(enabled=False))])) == []

    def test_a_pattern_can_be_tested_without_storing_it(self) -> None:
        assert test_pattern({"data": {"env": ["prod"]}}, event()) is True
        assert test_pattern({"data": {"env": [{"anything-but": ["prod"]}]}}, event()) is False
        with pytest.raises(PatternInvalid):
            test_pattern({"data": "prod"}, event())


class TestOutcomes:
    @pytest.mark.parametrize(("status", "kind"), [
        (200, "ok"), (204, "ok"), (301, "final"), (400, "final"), (401, "final"), (404, "final"), (408, "retry"),
        (410, "final"), (422, "final"), (429, "retry"), (500, "retry"), (502, "retry"), (503, "retry"),
    ])
    def test_http_statuses(self, status: int, kind: str) -> None:
        assert http_outcome(status).kind == kind

    def test_backoff_doubles_with_jitter_and_is_capped(self) -> None:
        low, high = RetryPolicy(base=2, cap=600, rand=lambda: 0.0), RetryPolicy(base=2, cap=600, rand=lambda: 0.999999)
        assert [low.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
        assert [round(high.delay(n), 3) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
        assert low.delay(20) == 300 and round(high.delay(20)) == 600

    def test_failures_are_retried_until_the_last_attempt_then_dead(self) -> None:
        policy = RetryPolicy(max_attempts=3, base=1, rand=lambda: 0.5)
        failure = Outcome.retry("HTTP 500", 500)
        assert policy.after(1, failure)[0] is DeliveryState.PENDING
        assert policy.after(2, failure)[0] is DeliveryState.PENDING
        assert policy.after(3, failure) == (DeliveryState.DEAD, None)
        assert policy.after(1, Outcome.final("HTTP 404", 404)) == (DeliveryState.DEAD, None)
        assert policy.after(3, Outcome.ok(200)) == (DeliveryState.SUCCEEDED, None)


class TestRenderings:
    def test_a_decision_mail_says_who_decided_and_links_the_version(self) -> None:
        out = render(event(events.APPROVAL_DECIDED, decision="approve", actor="rita", state="open",
                           missing="1 more approval", comment="looks right", request_id=7),
                     "https://signoff.example.com/")
        assert out.subject == "[signoff] rita approved churn v3 in prod"
        assert "looks right" in out.text and "1 more approval" in out.text
        assert out.link == "https://signoff.example.com/models/churn/versions/3" and out.link in out.text

    def test_an_unknown_event_falls_back_to_its_data(self) -> None:
        out = render({"type": "custom.thing", "id": "e", "subject": "x", "data": {"k": 1}}, "http://h")
        assert out.subject == "[signoff] custom.thing: x" and '"k": 1' in out.text and out.link is None


class TestWebhookSignatures:
    def test_the_signature_is_an_hmac_of_timestamp_dot_body(self) -> None:
        body = b'{"id":"evt-1"}'
        expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
        assert sign("s3cret", 1700000000, body) == f"t=1700000000,v1={expected}"

    def test_verification_needs_the_right_secret_body_and_a_fresh_timestamp(self) -> None:
        body = b'{"id":"evt-1"}'
        header = sign("s3cret", 1700000000, body)
        assert verify_signature("s3cret", header, body, now=1700000010)
        assert not verify_signature("wrong", header, body, now=1700000010)
        assert not verify_signature("s3cret", header, body + b" ", now=1700000010)
        assert not verify_signature("s3cret", header, body, now=1700000000 + 3600)
        assert not verify_signature("s3cret", "garbage", body)


@pytest.mark.parametrize(("function", "prefixes", "allowed"), [
    ("myco.hooks:deploy", ["myco.hooks"], True),
    ("myco.hooks.sub:deploy", ["myco.hooks"], True),
    ("myco.hooksevil:deploy", ["myco.hooks"], False),
    ("myco:deploy", ["myco.hooks"], False),
    ("os:system", [], False),
    ("os:system", ["myco", "os"], True),
])
def test_python_targets_are_allowed_by_whole_module_prefixes(function: str, prefixes: list[str],
                                                              allowed: bool) -> None:
    from signoff.domain.rules import python_target_allowed

    assert python_target_allowed(function, prefixes) is allowed
