"""Targets through a real worker: signed webhooks, retries, dead letters, replay, Slack, email,
Python handlers, leases. Real receivers on loopback, a worker thread, the system clock."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from tests.conftest import DIGEST, make_settings, unique
from tests.fixtures import handlers
from tests.fixtures.servers import Certificate, SmtpServer, WebhookReceiver

from signoff.adapters.db.engine import build_engine
from signoff.adapters.db.migrate import upgrade
from signoff.adapters.smtp import SmtpMailer
from signoff.adapters.webhooks import verify_signature
from signoff.bootstrap import Context, bootstrap, build_dispatcher
from signoff.config import SmtpSettings
from signoff.domain.events import Event
from signoff.entrypoints.worker import Worker
from signoff.errors import DeliveryFailed, InvalidInput
from signoff.sdk._embedded import EmbeddedClient
from signoff.services.actions import message_id
from signoff.services.ports import MailMessage

FAST = {"python_targets": ["tests.fixtures"],
        "inline": False, "backoff_base": 0.05, "backoff_cap": 0.2, "max_attempts": 4, "lease_seconds": 5,
        "poll_interval": 0.02}


@pytest.fixture
def bus_factory(tmp_path: Path) -> Iterator[Callable[..., Context]]:
    made: list[Context] = []

    def make(**overrides: Any) -> Context:
        ctx = bootstrap(make_settings(tmp_path, events={**FAST, **overrides.pop("events", {})}, **overrides))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def bus(bus_factory: Callable[..., Context]) -> Context:
    return bus_factory()


@pytest.fixture
def worker(bus: Context) -> Iterator[Worker]:
    w = Worker(bus, concurrency=2).start()
    yield w
    w.stop()


def admin(ctx: Context) -> EmbeddedClient:
    return EmbeddedClient(actor="dana", context=ctx)  # a user every test's config declares


def add_rule(ctx: Context, *targets: dict[str, Any], etype: str = "test.ping", name: str | None = None) -> str:
    name = name or unique("rule")
    admin(ctx).add_rule(name, {"type": [etype]}, list(targets))
    return name


def publish(ctx: Context, etype: str = "test.ping", count: int = 1, **data: Any) -> list[str]:
    with ctx.uow() as uow:
        made = [Event(etype, f"tests/{i}", {"i": i, **data}) for i in range(count)]
        for e in made:
            uow.emit(e)
        uow.commit()
    return [e.id for e in made]


def wait_until(check: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} not reached within {timeout}s")


def delivery_of(ctx: Context, rule: str, state: str | None = None) -> Any:
    found = [d for d in admin(ctx).deliveries(rule=rule) if state is None or d.state == state]
    return admin(ctx).delivery(found[0].id) if found else None


class TestWebhooks:
    def test_the_receiver_gets_the_cloud_event_signed_with_the_rules_secret(
        self, bus: Context, worker: Worker, webhook_receiver: WebhookReceiver
    ) -> None:
        rule = add_rule(bus, {"type": "webhook", "url": webhook_receiver.url, "secret": "s3cret",
                              "headers": {"X-Team": "ml"}})
        [event_id] = publish(bus, model="churn")
        [request] = webhook_receiver.wait_for(1)
        event = request.json()
        assert (event["id"], event["type"], event["specversion"], event["data"]["model"]) == (
            event_id, "test.ping", "1.0", "churn")
        assert request.headers["Signoff-Idempotency-Key"] == f"{event_id}/{rule}/0"
        assert request.headers["X-Team"] == "ml"
        assert request.headers["Content-Type"].startswith("application/cloudevents+json")
        # The receiver's side: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">, checked with the shared secret.
        fields = dict(part.split("=", 1) for part in request.headers["Signoff-Signature"].split(","))
        expected = hmac.new(b"s3cret", fields["t"].encode() + b"." + request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(fields["v1"], expected)
        assert abs(int(fields["t"]) - time.time()) < 60
        assert verify_signature("s3cret", request.headers["Signoff-Signature"], request.body)
        assert not verify_signature("not-the-secret", request.headers["Signoff-Signature"], request.body)
        wrong = hmac.new(b"not-the-secret", fields["t"].encode() + b"." + request.body, hashlib.sha256).hexdigest()
        assert not hmac.compare_digest(fields["v1"], wrong)

    def test_the_secret_can_come_from_an_environment_variable(
        self, bus: Context, worker: Worker, webhook_receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DEPLOY_HOOK_SECRET", "from-env")
        add_rule(bus, {"type": "webhook", "url": webhook_receiver.url, "secret_env": "DEPLOY_HOOK_SECRET"})
        publish(bus)
        [request] = webhook_receiver.wait_for(1)
        assert verify_signature("from-env", request.headers["Signoff-Signature"], request.body)

    def test_a_receiver_answering_500_three_times_gets_the_event_on_the_fourth_attempt(
        self, bus: Context, worker: Worker, webhook_receiver: WebhookReceiver
    ) -> None:
        webhook_receiver.respond_with([500, 500, 500], then=200)
        rule = add_rule(bus, {"type": "webhook", "url": webhook_receiver.url})
        [event_id] = publish(bus)
        got = webhook_receiver.wait_for(4)
        assert [r.status for r in got] == [500, 500, 500, 200]
        assert {r.headers["Signoff-Idempotency-Key"] for r in got} == {f"{event_id}/{rule}/0"}
        assert [r.headers["Signoff-Attempt"] for r in got] == ["1", "2", "3", "4"]
        gaps = [b.monotonic - a.monotonic for a, b in itertools.pairwise(got)]
        assert all(g >= 0.02 for g in gaps), gaps  # backoff: never retried at once
        delivery = wait_until(lambda: delivery_of(bus, rule, "succeeded"), what="success")
        assert [(a.outcome, a.status_code) for a in delivery.attempt_log] == [
            ("retry", 500), ("retry", 500), ("retry", 500), ("ok", 200)]
        time.sleep(0.3)
        assert len(webhook_receiver.requests) == 4

    def test_a_receiver_that_is_down_dead_letters_the_event_and_replay_delivers_it_once_it_is_back(
        self, bus: Context, worker: Worker, webhook_receiver: WebhookReceiver
    ) -> None:
        webhook_receiver.stop()
        rule = add_rule(bus, {"type": "webhook", "url": webhook_receiver.url})
        [event_id] = publish(bus)
        dead = wait_until(lambda: delivery_of(bus, rule, "dead"), what="dead letter")
        assert [a.outcome for a in dead.attempt_log] == ["retry"] * 4
        assert "connection failed" in dead.last_error
        assert [d.id for d in admin(bus).deliveries(state="dead")] == [dead.id]
        webhook_receiver.start()
        assert admin(bus).replay_delivery(dead.id).replays == 1
        [request] = webhook_receiver.wait_for(1)
        assert request.headers["Signoff-Idempotency-Key"] == f"{event_id}/{rule}/0"
        done = wait_until(lambda: delivery_of(bus, rule, "succeeded"), what="delivery after replay")
        assert [a.outcome for a in done.attempt_log] == ["retry"] * 4 + ["ok"]

    def test_a_4xx_answer_is_final(self, bus: Context, worker: Worker, webhook_receiver: WebhookReceiver) -> None:
        webhook_receiver.respond_with([410])
        rule = add_rule(bus, {"type": "webhook", "url": webhook_receiver.url})
        publish(bus)
        dead = wait_until(lambda: delivery_of(bus, rule, "dead"), what="dead letter")
        assert (dead.attempts, dead.last_status_code) == (1, 410) and len(webhook_receiver.requests) == 1

    def test_a_slow_receiver_times_out_and_is_retried(
        self, bus: Context, worker: Worker, webhook_receiver: WebhookReceiver
    ) -> None:
        webhook_receiver.respond_with([], then=200, delay=0.6)
        rule = add_rule(bus, {"type": "webhook", "url": webhook_receiver.url, "timeout": 0.2})
        publish(bus)
        wait_until(lambda: len(webhook_receiver.requests) >= 2, what="a retry after the timeout")
        webhook_receiver.respond_with([], then=200)
        done = wait_until(lambda: delivery_of(bus, rule, "succeeded"), what="success")
        assert done.attempt_log[0].error == "no answer within 0.2s"


class TestSlack:
    def test_a_readable_message_with_a_link(self, bus: Context, worker: Worker,
                                            webhook_receiver: WebhookReceiver) -> None:
        add_rule(bus, {"type": "slack", "url": webhook_receiver.url}, etype="signoff.version.approved")
        publish(bus, "signoff.version.approved", model="churn", version=3, env="prod", approved_by=["paula"])
        text = webhook_receiver.wait_for(1)[0].json()["text"]
        assert text.startswith("*churn v3 is live in prod*")
        assert "<http://127.0.0.1:8080/models/churn/versions/3|Open in signoff>" in text


class TestEmail:
    def test_a_rule_mails_addresses_and_users_through_smtp(
        self, bus_factory: Callable[..., Context], smtp_server: SmtpServer
    ) -> None:
        users = {"dana": {"groups": ["data-science"], "email": "dana@example.com"}}
        ctx = bus_factory(users=users, smtp={"host": smtp_server.host, "port": smtp_server.port,
                                             "from": "signoff <signoff@corp.example.com>"})
        rule = add_rule(ctx, {"type": "email", "to": ["registrant", "ops@example.com"]},
                        etype="signoff.approval.decided")
        w = Worker(ctx).start()
        try:
            [event_id] = publish(ctx, "signoff.approval.decided", model="churn", version=2, env="dev",
                                 decision="approve", actor="rita", state="approved", registered_by="dana")
            key = f"{event_id}/{rule}/0"
            # The default rule mails the registrant about the same event; pick this rule's mail.
            wait_until(lambda: any(m.message["Signoff-Idempotency-Key"].strip() == key for m in smtp_server.messages),
                       what="the rule's mail")
            [mail] = [m for m in smtp_server.messages if m.message["Signoff-Idempotency-Key"].strip() == key]
        finally:
            w.stop()
        assert sorted(mail.rcpt_tos) == ["dana@example.com", "ops@example.com"]
        assert mail.message["Subject"] == "[signoff] rita approved churn v2 in dev"
        assert mail.message["Message-ID"] == message_id(key, "signoff@corp.example.com")
        assert mail.message["Signoff-Idempotency-Key"].strip() == key
        assert "http://127.0.0.1:8080/models/churn/versions/2" in mail.message.get_body(("plain",)).get_content()

    def test_the_default_rule_mails_each_decision_to_the_registrant(self, tmp_path: Path,
                                                                    smtp_server: SmtpServer) -> None:
        users = {"dana": {"groups": ["data-science"], "email": "dana@example.com"}, "rita": {"groups": ["ml-reviewers"]}}
        ctx = bootstrap(make_settings(tmp_path, users=users, smtp={"host": smtp_server.host, "port": smtp_server.port}))
        try:
            name = unique()
            EmbeddedClient(actor="dana", context=ctx).register(name, "s3://b/m.pkl", digest=DIGEST)
            EmbeddedClient(actor="rita", context=ctx).approve(name, 1, "dev", comment="ship it")
            [mail] = smtp_server.wait_for(1)
        finally:
            ctx.close()
        assert mail.rcpt_tos == ["dana@example.com"]
        assert name in mail.message["Subject"] and "dev" in mail.message["Subject"]
        assert mail.message["Signoff-Idempotency-Key"].strip().endswith("/default-notify-registrant/0")

    def test_starttls_with_login_is_used_when_configured(self, smtp_server_factory: Callable[..., SmtpServer],
                                                         tls_certificate: Certificate) -> None:
        server = smtp_server_factory(certificate=tls_certificate, auth=("mailer", "pw"))
        settings = SmtpSettings(host=server.host, port=server.port, starttls=True, user="mailer", password="pw")
        mailer = SmtpMailer(settings, ssl_context=tls_certificate.client_context())
        mailer.send(MailMessage(to=["a@example.com"], subject="hi", text="body", message_id="<k@example.com>"))
        [mail] = server.wait_for(1)
        assert mail.tls and mail.auth_login == "mailer" and mail.message["Message-ID"] == "<k@example.com>"

    def test_an_unreachable_smtp_server_is_retried(self) -> None:
        from tests.fixtures.servers import free_port

        mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2))
        with pytest.raises(DeliveryFailed) as exc:
            mailer.send(MailMessage(to=["a@example.com"], subject="hi", text="body"))
        assert exc.value.details["retry"] is True


class TestPythonTargets:
    def test_the_handler_is_called_with_the_event_and_its_result_kept(self, bus: Context, worker: Worker) -> None:
        rule = add_rule(bus, {"type": "python", "function": "tests.fixtures.handlers:record"})
        [event_id] = publish(bus, model="churn")
        done = wait_until(lambda: delivery_of(bus, rule, "succeeded"), what="handler call")
        assert done.result == {"returned": {"seen": event_id}}
        assert [e["data"]["model"] for e in handlers.CALLS if e["id"] == event_id] == ["churn"]

    def test_a_raising_handler_is_retried(self, bus: Context, worker: Worker) -> None:
        rule = add_rule(bus, {"type": "python", "function": "tests.fixtures.handlers:flaky"})
        [event_id] = publish(bus)
        done = wait_until(lambda: delivery_of(bus, rule, "succeeded"), what="third call")
        assert [a.outcome for a in done.attempt_log] == ["retry", "retry", "ok"]
        assert "flaky failure 1" in done.attempt_log[0].error
        assert [e["id"] for e in handlers.CALLS].count(event_id) == 1

    @pytest.mark.parametrize(("function", "error"), [
        ("tests.fixtures.handlers:refuse", "refuses for good"),
        ("tests.fixtures.no_such_module:handler", "cannot load"),
    ])
    def test_a_handler_that_cannot_succeed_is_dead_at_once(self, bus: Context, worker: Worker, function: str,
                                                           error: str) -> None:
        rule = add_rule(bus, {"type": "python", "function": function})
        publish(bus)
        dead = wait_until(lambda: delivery_of(bus, rule, "dead"), what="dead letter")
        assert dead.attempts == 1 and error in dead.last_error


class TestPythonTargetAllowList:
    def test_by_default_no_python_target_may_be_saved(self, tmp_path: Path) -> None:
        ctx = bootstrap(make_settings(tmp_path))
        try:
            before = len(admin(ctx).audit(limit=1000))
            with pytest.raises(InvalidInput) as exc:
                add_rule(ctx, {"type": "python", "function": "os:system"}, name="shell")
            assert "os:system" in exc.value.message and "[events] python_targets" in exc.value.message
            assert exc.value.details["field"] == "targets[0].function"
            assert "shell" not in [r.name for r in admin(ctx).rules()]
            assert len(admin(ctx).audit(limit=1000)) == before
        finally:
            ctx.close()

    @pytest.mark.parametrize("function", ["tests.fixturesx:record", "tests:fixtures", "os:system"])
    def test_only_modules_under_a_listed_prefix_are_allowed(self, bus: Context, function: str) -> None:
        with pytest.raises(InvalidInput):
            add_rule(bus, {"type": "python", "function": function})

    def test_a_config_rule_outside_the_list_stops_the_start(self, tmp_path: Path) -> None:
        spec = {"name": "shell", "pattern": {"type": ["x"]}, "targets": [{"type": "python", "function": "os:system"}]}
        with pytest.raises(InvalidInput) as exc:
            bootstrap(make_settings(tmp_path, rules=[spec]))
        assert "rules[0].targets[0].function" in exc.value.message

    def test_a_target_no_longer_allowed_is_dead_at_delivery(self, bus_factory: Callable[..., Context]) -> None:
        allowed = bus_factory()
        rule = add_rule(allowed, {"type": "python", "function": "tests.fixtures.handlers:record"})
        narrowed = bus_factory(events={"python_targets": ["myco.hooks"]})
        [event_id] = publish(narrowed)
        w = Worker(narrowed).start()
        try:
            dead = wait_until(lambda: delivery_of(narrowed, rule, "dead"), what="dead letter")
        finally:
            w.stop()
        assert dead.attempts == 1 and "python_targets" in dead.last_error
        assert event_id not in [e["id"] for e in handlers.CALLS]


class TestLeases:
    def test_a_dead_workers_delivery_is_taken_over_when_its_lease_runs_out(
        self, bus_factory: Callable[..., Context], webhook_receiver: WebhookReceiver
    ) -> None:
        ctx = bus_factory(events={"lease_seconds": 0.5})
        rule = add_rule(ctx, {"type": "webhook", "url": webhook_receiver.url})
        publish(ctx)
        crashed = build_dispatcher(ctx, owner="worker-that-died")
        crashed.fan_out()
        assert len(crashed.claim()) == 1  # claimed, then never run nor reported
        started = time.monotonic()
        w = Worker(ctx).start()
        try:
            webhook_receiver.wait_for(1)
        finally:
            w.stop()
            crashed.close()
        assert time.monotonic() - started >= 0.3
        done = wait_until(lambda: delivery_of(ctx, rule, "succeeded"), what="takeover")
        assert [(a.outcome, a.worker) for a in done.attempt_log] == [("lost", "worker-that-died"), ("ok", w.name)]

    def test_a_live_worker_keeps_its_lease_while_a_slow_target_runs(
        self, bus_factory: Callable[..., Context], webhook_receiver: WebhookReceiver
    ) -> None:
        # The target outlasts two lease periods, so only renewal keeps the second worker off it;
        # a 2 s lease leaves room for a renewal delayed by a busy machine.
        ctx = bus_factory(events={"lease_seconds": 2.0})
        webhook_receiver.respond_with([], then=200, delay=4.5)
        rule = add_rule(ctx, {"type": "webhook", "url": webhook_receiver.url, "timeout": 8})
        publish(ctx)
        first, second = Worker(ctx).start(), Worker(ctx).start()
        try:
            done = wait_until(lambda: delivery_of(ctx, rule, "succeeded"), what="slow delivery")
        finally:
            first.stop()
            second.stop()
        assert len(webhook_receiver.requests) == 1
        assert [a.outcome for a in done.attempt_log] == ["ok"]


    def test_a_batch_whose_outcome_was_never_recorded_is_not_kept_alive_by_renewal(
        self, bus_factory: Callable[..., Context], webhook_receiver: WebhookReceiver
    ) -> None:
        # The soak once ended with deliveries 'running' for ever: a batch's result was lost (its
        # recording transaction failed) while the renewer went on extending every lease the
        # worker held. Only deliveries in hand may be renewed; a lost one expires and is retaken.
        ctx = bus_factory(events={"lease_seconds": 0.5})
        rule = add_rule(ctx, {"type": "webhook", "url": webhook_receiver.url})
        publish(ctx)
        failing = build_dispatcher(ctx, owner="worker-whose-batch-failed")

        class Crash(BaseException):
            """A thread dying mid-batch: nothing below the worker loop catches it."""

        def crash(job: Any, cap: float | None) -> Any:
            raise Crash

        failing.runners["webhook"] = crash
        try:
            failing.fan_out()
            jobs = failing.claim()
            assert len(jobs) == 1
            with pytest.raises(Crash):
                failing.execute(jobs)
            assert failing.renew() == 0, "a lease of a delivery no longer in hand was renewed"
            w = Worker(ctx).start()
            try:
                done = wait_until(lambda: delivery_of(ctx, rule, "succeeded"), what="takeover")
            finally:
                w.stop()
        finally:
            failing.close()
        assert [(a.outcome, a.worker) for a in done.attempt_log] == [("lost", "worker-whose-batch-failed"),
                                                                      ("ok", w.name)]

    def test_renewal_never_waits_for_a_delivery_being_settled(
        self, bus_factory: Callable[..., Context], webhook_receiver: WebhookReceiver, postgres_database: str
    ) -> None:
        # Renewal and settling lock the same rows from two threads of one worker: on PostgreSQL
        # the old renewal waited for (or deadlocked with) the settling transaction, and a
        # deadlock victim on the settling side lost the batch's outcome.
        engine = build_engine(postgres_database)
        upgrade(engine)
        engine.dispose()
        ctx = bus_factory(events={"lease_seconds": 5}, database_url=postgres_database)
        add_rule(ctx, {"type": "webhook", "url": webhook_receiver.url})
        publish(ctx)
        d = build_dispatcher(ctx, owner="renewing-worker")
        try:
            d.fan_out()
            [job] = d.claim()
            renewed: list[int] = []
            with ctx.engine.connect() as settling:
                settling.execute(text("SELECT id FROM deliveries WHERE id = :id FOR UPDATE"), {"id": job.id})
                renewer = threading.Thread(target=lambda: renewed.append(d.renew()), daemon=True)
                renewer.start()
                renewer.join(5)
                waited = renewer.is_alive()
                settling.rollback()
            renewer.join(30)
            assert not waited, "renewal waited for a row another transaction holds"
            assert renewed == [0]
            d.execute([job])
        finally:
            d.close()


class TestMetrics:
    def test_deliveries_attempts_and_backlog_age_are_exported(
        self, bus: Context, webhook_receiver: WebhookReceiver
    ) -> None:
        from prometheus_client import CollectorRegistry, generate_latest

        from signoff.entrypoints.api.routes.deliveries import DeliveryCollector

        registry = CollectorRegistry()
        registry.register(DeliveryCollector(bus))
        add_rule(bus, {"type": "webhook", "url": webhook_receiver.url})
        publish(bus, count=3)
        time.sleep(0.2)
        waiting = generate_latest(registry).decode()
        age = float(next(line.split()[-1] for line in waiting.splitlines()
                         if line.startswith("signoff_events_oldest_undelivered_age_seconds")))
        assert age >= 0.1
        bus.inline_dispatcher().drain()
        text = generate_latest(registry).decode()
        assert 'signoff_deliveries{state="succeeded",target_type="webhook"} 3.0' in text
        assert 'signoff_delivery_attempts_total{outcome="ok"} 3.0' in text
        assert "signoff_events_oldest_undelivered_age_seconds 0.0" in text
        assert json.loads(webhook_receiver.requests[0].body)["type"] == "test.ping"
