"""Electronic signatures in the web UI over real HTTP: the review form asks for the password, and
single sign-on users are sent back to the provider with `max_age=0`, whose ID token's
`auth_time` must be recent (the OIDC provider is a real process; its claims are set per test)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from signoff.adapters.identity import directory_for
from signoff.sdk._embedded import EmbeddedClient
from signoff.services.ports import FixedClock
from tests.conftest import ENVIRONMENTS, unique
from tests.e2e.test_directory_signin import prod_request
from tests.e2e.test_directory_web import oidc_config
from tests.fixtures.oidc_provider import OidcProviderServer, oidc_provider  # noqa: F401
from tests.fixtures.servers import SmtpServer
from tests.fixtures.web import PASSWORDS, Stack, Visitor, build_stack

SIGNING_ENVS = {**ENVIRONMENTS, "prod": {**ENVIRONMENTS["prod"], "signature": "reauth",
                                         "meanings": ["Approved for release to prod"]}}


@pytest.fixture
def stack(tmp_path: Path, smtp_server: SmtpServer, clock: FixedClock,
          oidc_provider: OidcProviderServer) -> Iterator[Stack]:  # noqa: F811
    built = build_stack(tmp_path, smtp_server, clock, environments=SIGNING_ENVS,
                        auth={"providers": ["local", "oidc"], "oidc": oidc_config(oidc_provider)})
    yield built
    built.close()
    built.server.stop()
    directory_for(built.ctx).close()
    built.ctx.close()


def wait_for_mail(stack: Stack, address: str, needle: str, timeout: float = 15.0) -> str:
    """The plain text of the first mail to `address` containing `needle` (mail goes out after the commit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in stack.mails_to(address):
            text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            if needle in text:
                return str(text)
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address} with {needle!r}")


def sign_in(visitor: Visitor, name: str) -> None:
    r = visitor.post_form("/signin", "/signin", name=name, password=PASSWORDS[name])
    assert r.status_code == 303, r.text


class TestThePasswordInTheForm:
    def test_without_the_password_nothing_is_signed_and_with_it_the_page_shows_the_signature(
        self, stack: Stack
    ) -> None:
        _, request_id = prod_request(stack.ctx)
        paula = stack.visitor()
        sign_in(paula, "paula")
        stack.clock.advance(minutes=5)  # the sign-in is no longer fresh enough to sign with
        page = paula.get(f"/requests/{request_id}")
        assert 'name="password"' in page.text and "Electronic signature" in page.text
        refused = paula.decide(request_id, "approve")
        assert refused.status_code == 401 and "electronic signatures" in refused.text
        assert EmbeddedClient(actor="paula", context=stack.ctx).request(request_id).decisions == []
        wrong = paula.post_form(f"/requests/{request_id}", f"/requests/{request_id}/decision", decision="approve",
                                password="not-it")
        assert wrong.status_code == 401
        done = paula.post_form(f"/requests/{request_id}", f"/requests/{request_id}/decision", decision="approve",
                               password=PASSWORDS["paula"])
        assert done.status_code == 303, done.text
        shown = paula.get(f"/requests/{request_id}").text
        assert "Electronic signatures" in shown and "Approved for release to prod" in shown
        assert "2026-11-25 12:05:00 UTC" in shown and "password:local" in shown
        version_page = paula.get(f"/models/{EmbeddedClient(actor='paula', context=stack.ctx).request(request_id).model}"
                                 "/versions/1").text
        assert "signed “Approved for release to prod” at" in version_page
        notice = wait_for_mail(stack, "dana@example.com", "Electronic signatures")
        assert 'paula (paula, user id' in notice and 'signed "Approved for release to prod" at 2026-11-25 12:05:00 UTC' \
            in notice


class TestSingleSignOn:
    def sso_user(self, provider: OidcProviderServer, auth_time: float) -> str:
        sub = unique("sso")
        provider.set_user(sub, preferred_username=f"{sub}@example.com", email=f"{sub}@example.com",
                          name=sub.title(), groups=["ML Leads"], auth_time=int(auth_time))
        return sub

    def through_provider(self, visitor: Visitor, location: str, sub: str) -> httpx.Response:
        with httpx.Client(timeout=10) as idp:
            assert idp.get(location).status_code == 200
            back = idp.post(location, data={"sub": sub})
        assert back.status_code == 302, back.text
        return visitor.get(back.headers["location"])

    def sign(self, stack: Stack, visitor: Visitor, request_id: int, sub: str) -> httpx.Response:
        r = visitor.post_form(f"/requests/{request_id}", f"/requests/{request_id}/decision", decision="approve",
                              sign_with="sso")
        assert r.status_code == 303, r.text
        query = parse_qs(urlsplit(r.headers["location"]).query)
        assert query["max_age"] == ["0"] and query["prompt"] == ["login"]
        return self.through_provider(visitor, r.headers["location"], sub)

    def test_an_old_auth_time_is_refused_and_a_fresh_one_signs(
        self, stack: Stack, oidc_provider: OidcProviderServer  # noqa: F811
    ) -> None:
        now = stack.clock.now().timestamp()
        sub = self.sso_user(oidc_provider, auth_time=now - 3600)
        visitor = stack.visitor()
        r = visitor.get("/auth/oidc/login?next=/")
        self.through_provider(visitor, r.headers["location"], sub)
        _, request_id = prod_request(stack.ctx)
        back = self.sign(stack, visitor, request_id, sub)
        assert back.status_code == 303 and "signing_error" in back.headers["location"]
        page = visitor.get(back.headers["location"])
        assert "not within 120 s" in page.text
        assert EmbeddedClient(actor=sub, context=stack.ctx).request(request_id).decisions == []
        oidc_provider.set_user(sub, preferred_username=f"{sub}@example.com", email=f"{sub}@example.com",
                               name=sub.title(), groups=["ML Leads"], auth_time=int(now - 10))
        back = self.sign(stack, visitor, request_id, sub)
        assert back.status_code == 303 and back.headers["location"].endswith("?decided=approve"), back.headers
        request = EmbeddedClient(actor=sub, context=stack.ctx).request(request_id)
        assert [d.actor for d in request.decisions] == [sub]
        shown = visitor.get(f"/requests/{request_id}").text
        assert "Approved for release to prod" in shown and "authenticated by oidc" in shown
