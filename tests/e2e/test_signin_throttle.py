"""The sign-in throttle: per account and per client address, across processes, on every door
(the form, POST /api/v1/sessions, LDAP, OIDC), answered with 429 and Retry-After, and audited as
events a rule can route."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from signoff.adapters.db.tables import AuditRow, OutboxRow
from signoff.adapters.identity import directory_for
from signoff.bootstrap import Context, bootstrap
from signoff.config import load_settings
from signoff.entrypoints.api import create_app
from signoff.errors import InvalidInput
from signoff.sdk._embedded import EmbeddedClient
from signoff.services.ports import FixedClock
from tests.conftest import make_settings
from tests.e2e.conftest import error_of
from tests.e2e.test_directory_web import oidc_config
from tests.fixtures.directory import ldap_config
from tests.fixtures.oidc_provider import OidcProviderServer, oidc_provider  # noqa: F401
from tests.fixtures.servers import SlapdServer, SmtpServer, WebhookReceiver
from tests.fixtures.signoff_process import SignoffProcess
from tests.fixtures.web import PASSWORDS, Stack, build_stack, set_passwords

V1 = "/api/v1"
LIMITS = {"signin_failures_per_account": "3 per minute", "signin_failures_per_address": "5 per minute"}


@pytest.fixture
def tctx(tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    ctx = bootstrap(make_settings(tmp_path, auth=LIMITS), clock=clock)
    set_passwords(ctx)
    yield ctx
    ctx.close()


def client(ctx: Context, address: str = "10.0.0.1") -> TestClient:
    return TestClient(create_app(ctx), client=(address, 40000))


def sign_in(http: TestClient, user: str, password: str) -> httpx.Response:
    return http.post(f"{V1}/sessions", json={"username": user, "password": password})


def written(ctx: Context, *types: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(audit action, event type, event data) of the sign-in events, in order."""
    with ctx.engine.connect() as conn:
        actions = [a for (a,) in conn.execute(select(AuditRow.action).where(AuditRow.action.like("auth.%"))
                                              .order_by(AuditRow.id))]
        events = [(t, p["data"]) for t, p in conn.execute(select(OutboxRow.type, OutboxRow.payload)
                                                            .where(OutboxRow.type.like("signoff.auth.%"))
                                                            .order_by(OutboxRow.id))]
    return [(a, t, d) for a, (t, d) in zip(actions, events, strict=True)]


class TestPerAccount:
    def test_the_failure_that_reaches_the_limit_locks_the_account_even_for_the_right_password(
            self, tctx: Context, clock: FixedClock) -> None:
        http = client(tctx)
        assert [sign_in(http, "dana", "wrong").status_code for _ in range(2)] == [401, 401]
        locked = sign_in(http, "dana", "wrong")
        assert locked.status_code == 429 and error_of(locked)["code"] == "rate_limited"
        assert 1 <= int(locked.headers["Retry-After"]) <= 60
        again = sign_in(http, "dana", PASSWORDS["dana"])
        assert again.status_code == 429 and error_of(again)["details"]["scope"] == "account"

        clock.advance(seconds=61)
        assert sign_in(http, "dana", PASSWORDS["dana"]).status_code == 201

    def test_failures_and_the_lockout_are_audited_with_their_events_refusals_are_not(self, ctx: Context) -> None:
        http = client(ctx)  # the default limits
        for _ in range(12):
            sign_in(http, "rita", "wrong")
        log = written(ctx)
        assert [(a, t) for a, t, _ in log] == [("auth.signin_failed", "signoff.auth.signin_failed")] * 10 + [
            ("auth.locked_out", "signoff.auth.locked_out")]
        assert log[0][2] == {"user": "rita", "address": "10.0.0.1", "via": "api",
                             "reason": "invalid user name or password"}
        assert log[-1][2] | {"retry_after": 0} == {
            "user": "rita", "address": "10.0.0.1", "via": "api", "scope": "account", "retry_after": 0,
            "limit": "10 per 15 minutes", "reason": "invalid user name or password"}

    def test_a_success_clears_the_accounts_count(self, tctx: Context) -> None:
        http = client(tctx)
        assert [sign_in(http, "ron", "wrong").status_code for _ in range(2)] == [401, 401]
        assert sign_in(http, "ron", PASSWORDS["ron"]).status_code == 201
        assert [sign_in(http, "ron", "wrong").status_code for _ in range(2)] == [401, 401]

    def test_the_limit_holds_across_processes_sharing_the_database(self, tctx: Context, clock: FixedClock) -> None:
        other = bootstrap(tctx.settings, clock=clock)  # its own engine and throttle, as a second process has
        try:
            one, two = client(tctx), client(other, "10.0.0.2")
            answers = [sign_in(http, "uma", "wrong").status_code for http in (one, two, one, two)]
        finally:
            other.close()
        assert answers == [401, 401, 429, 429]


class TestPerAddress:
    def test_guessing_many_accounts_from_one_address_is_stopped_and_others_are_not(self, tctx: Context) -> None:
        attacker = client(tctx, "10.6.6.6")
        answers = [sign_in(attacker, f"nobody-{i}", "guess").status_code for i in range(5)]
        assert answers == [401, 401, 401, 401, 429]
        refused = sign_in(attacker, "pete", PASSWORDS["pete"])
        assert refused.status_code == 429 and error_of(refused)["details"]["scope"] == "address"
        assert sign_in(client(tctx, "10.0.0.7"), "pete", PASSWORDS["pete"]).status_code == 201

    def test_behind_a_trusted_proxy_the_forwarded_address_counts(self, tmp_path: Path, clock: FixedClock) -> None:
        settings = make_settings(tmp_path, auth={**LIMITS, "trusted_proxies": ["127.0.0.0/8"]})
        ctx = bootstrap(settings, clock=clock)
        try:
            proxy = client(ctx, "127.0.0.1")
            spoof = {"X-Forwarded-For": "10.9.9.9, 10.6.6.6"}  # the left hop is the client's own claim
            for i in range(5):
                proxy.post(f"{V1}/sessions", json={"username": f"x-{i}", "password": "g"}, headers=spoof)
            other = {"X-Forwarded-For": "10.9.9.9, 10.0.0.8"}
            assert proxy.post(f"{V1}/sessions", json={"username": "y", "password": "g"},
                              headers=other).status_code == 401
            assert proxy.post(f"{V1}/sessions", json={"username": "y", "password": "g"},
                              headers=spoof).status_code == 429
        finally:
            ctx.close()


class TestRules:
    def test_a_rule_routes_the_lockout_to_a_webhook(self, ctx: Context, webhook_receiver: WebhookReceiver) -> None:
        EmbeddedClient(actor="olga", context=ctx).add_rule(
            "lockouts", {"type": ["signoff.auth.locked_out"]}, [{"type": "webhook", "url": webhook_receiver.url}])
        http = client(ctx)
        for _ in range(10):
            sign_in(http, "paula", "wrong")
        (hook,) = webhook_receiver.wait_for(1)
        event = json.loads(hook.body)
        assert event["type"] == "signoff.auth.locked_out" and event["data"]["user"] == "paula"


class TestTheDefaults:
    def test_stop_guessing_at_the_tenth_failure_within_fifteen_minutes(self, ctx: Context) -> None:
        http = client(ctx)
        answers = [sign_in(http, "dana", f"guess-{i}").status_code for i in range(12)]
        assert answers == [401] * 9 + [429] * 3
        form = TestClient(create_app(ctx), client=("10.0.0.1", 40001), follow_redirects=False)
        page = form.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = form.post("/signin", data={"name": "dana", "password": "guess", "csrf_token": token})
        assert r.status_code == 429 and "Retry-After" in r.headers

    def test_a_bad_rate_is_refused_naming_its_key(self) -> None:
        with pytest.raises(InvalidInput, match="auth.signin_failures_per_account: .*not a rate"):
            load_settings(None, auth={"signin_failures_per_account": "lots"})


class TestTheForm:
    def test_answers_429_with_retry_after_on_the_sign_in_page(self, tmp_path: Path, smtp_server: SmtpServer,
                                                              clock: FixedClock) -> None:
        built = build_stack(tmp_path, smtp_server, clock, auth=LIMITS)
        try:
            visitor = built.visitor()
            page = visitor.get("/signin")
            answers = [visitor.http.post("/signin", data={"name": "eve", "password": "wrong",
                                                          "csrf_token": visitor.csrf(page.text, "/signin")})
                       for _ in range(4)]
            assert [a.status_code for a in answers] == [401, 401, 429, 429]
            assert "too many failed sign-ins" in answers[-1].text and int(answers[-1].headers["Retry-After"]) >= 1
            assert [d["via"] for _, _, d in written(built.ctx)][:3] == ["web"] * 3
        finally:
            built.close()
            built.server.stop()
            built.ctx.close()


class TestDirectories:
    def test_ldap_accounts_are_throttled_too(self, tmp_path: Path, clock: FixedClock,
                                             slapd_server: SlapdServer) -> None:
        # The default limits: 10 failures per account in 15 minutes.
        settings = make_settings(tmp_path, auth={"providers": ["ldap", "local"], "ldap": ldap_config(slapd_server)})
        ctx = bootstrap(settings, clock=clock)
        try:
            http = client(ctx)
            assert [sign_in(http, "carol", "wrong").status_code for _ in range(10)] == [401] * 9 + [429]
            assert sign_in(http, "carol", "carol-password").status_code == 429
            clock.advance(minutes=15, seconds=1)
            assert sign_in(http, "carol", "carol-password").status_code == 201
        finally:
            directory_for(ctx).close()
            ctx.close()

    def test_failed_oidc_callbacks_are_throttled_per_address(
            self, tmp_path: Path, smtp_server: SmtpServer, clock: FixedClock,
            oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        # The default limit: 100 failures per address in 15 minutes.
        built: Stack = build_stack(tmp_path, smtp_server, clock, auth={
            "providers": ["oidc", "local"], "oidc": oidc_config(oidc_provider)})
        try:
            with httpx.Client(base_url=built.url) as stranger:
                answers = [stranger.get("/auth/oidc/callback?code=guess&state=guess") for _ in range(101)]
            assert [a.status_code for a in answers] == [401] * 99 + [429] * 2
            assert int(answers[-1].headers["Retry-After"]) >= 1
            assert {d["via"] for _, _, d in written(built.ctx)} == {"oidc"}
        finally:
            built.close()
            built.server.stop()
            directory_for(built.ctx).close()
            built.ctx.close()


class TestServerProcesses:
    def test_two_signoff_servers_share_one_limit(self, tmp_path: Path) -> None:
        first = SignoffProcess(tmp_path / "a")
        second = SignoffProcess(tmp_path / "b")
        second.env["SIGNOFF_DATABASE_URL"] = first.database_url
        first.start()
        try:
            second.start()
            try:  # the default limit, 10 failures per account, alternating between the two processes
                answers = [httpx.post(f"{s.url}{V1}/sessions", json={"username": "dana", "password": "wrong"},
                                      timeout=30).status_code for s in [first, second] * 6]
            finally:
                second.stop()
        finally:
            first.stop()
        assert answers == [401] * 9 + [429] * 3
