"""Directory sign-in in the web UI over real HTTP: LDAP passwords (slapd) and OIDC single sign-on.

The OIDC provider is a real process (oidc-provider-mock); its sign-in page asks which subject
to sign in, and the claims it hands out are set per test, so the groups claim decides who may
approve. Browser tests drive Debian's Chromium with Playwright.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from signoff.adapters.identity import directory_for
from signoff.services.ports import FixedClock
from tests.conftest import unique
from tests.e2e.test_directory_signin import prod_request
from tests.fixtures.directory import ldap_config, stopped
from tests.fixtures.oidc_provider import OidcProviderServer, oidc_provider  # noqa: F401
from tests.fixtures.servers import SlapdServer, SmtpServer, unavailable
from tests.fixtures.web import Stack, Visitor, build_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def oidc_config(provider: OidcProviderServer, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "issuer": provider.issuer, "client_id": "signoff", "client_secret": "client-secret",
        "display_name": "Example SSO", "group_map": {"ML Leads": "ml-leads", "Risk Office": "risk-office"},
    }
    config.update(overrides)
    return config


@pytest.fixture
def sso_stack(tmp_path: Path, smtp_server: SmtpServer, clock: FixedClock, slapd_server: SlapdServer,
              oidc_provider: OidcProviderServer) -> Iterator[Stack]:  # noqa: F811
    built = build_stack(tmp_path, smtp_server, clock, auth={
        "providers": ["ldap", "local", "oidc"], "membership_ttl": "1s",
        "ldap": ldap_config(slapd_server), "oidc": oidc_config(oidc_provider)})
    yield built
    built.close()
    built.server.stop()
    directory_for(built.ctx).close()
    built.ctx.close()


def person(provider: OidcProviderServer, *groups: str) -> str:
    """A new subject at the provider with these groups; returns the signoff user name it maps to."""
    sub = unique("sso")
    provider.set_user(sub, preferred_username=f"{sub}@example.com", email=f"{sub}@example.com",
                      name=sub.title(), groups=list(groups))
    return sub


def start_sso(visitor: Visitor, sub: str, next_url: str = "/") -> tuple[str, str]:
    """Click "Sign in with …" and choose `sub` at the provider; returns (callback URL, pending cookie)."""
    r = visitor.get(f"/auth/oidc/login?next={next_url}")
    assert r.status_code == 303, r.text
    authorize = r.headers["location"]
    with httpx.Client(timeout=10) as idp:
        assert idp.get(authorize).status_code == 200
        back = idp.post(authorize, data={"sub": sub})
    assert back.status_code == 302, back.text
    return back.headers["location"], visitor.http.cookies["signoff_oidc"]


def sso_sign_in(visitor: Visitor, sub: str) -> httpx.Response:
    callback, _ = start_sso(visitor, sub)
    r = visitor.get(callback)
    assert r.status_code == 303, r.text
    return r


def post_decision(visitor: Visitor, request_id: int, decision: str = "approve") -> httpx.Response:
    """The decision POST with the session's CSRF token, whether or not the page offered the form."""
    page = visitor.get(f"/requests/{request_id}")
    return visitor.http.post(f"/requests/{request_id}/decision",
                             data={"csrf_token": visitor.csrf(page.text), "decision": decision, "comment": "ok"})


class TestLdapInTheWebUi:
    def test_a_directory_user_signs_in_with_the_form_and_sees_their_name(self, sso_stack: Stack) -> None:
        visitor = sso_stack.visitor()
        visitor.sign_in("carol", "carol-password")
        page = visitor.get("/queue")
        assert page.status_code == 200 and ">carol<" in page.text

    def test_a_directory_that_is_down_answers_the_form_with_503_and_a_clear_message(
            self, sso_stack: Stack, slapd_server: SlapdServer) -> None:
        visitor = sso_stack.visitor()
        form = visitor.get("/signin")
        with stopped(slapd_server):
            r = visitor.http.post("/signin", data={"name": "alice", "password": "alice-password",
                                                   "csrf_token": visitor.csrf(form.text), "next": "/"})
        assert r.status_code == 503
        assert "directory (LDAP) is unavailable" in r.text

    def test_a_nested_member_and_a_risk_officer_approve_prod_in_the_browser_forms(self, sso_stack: Stack) -> None:
        _, request_id = prod_request(sso_stack.ctx)
        carol, bob = sso_stack.visitor(), sso_stack.visitor()
        carol.sign_in("carol", "carol-password")
        bob.sign_in("bob", "bob-password")
        assert carol.decide(request_id, "approve").status_code == 303
        assert bob.decide(request_id, "approve").status_code == 303
        assert "approved" in carol.get(f"/requests/{request_id}").text.lower()


class TestSingleSignOn:
    def test_the_sign_in_page_offers_the_provider(self, sso_stack: Stack) -> None:
        page = sso_stack.visitor().get("/signin?next=/queue")
        assert "Sign in with Example SSO" in page.text
        assert 'href="/auth/oidc/login?next=/queue"' in page.text

    def test_the_authorization_request_uses_pkce_state_and_nonce(self, sso_stack: Stack,
                                                                oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        r = sso_stack.visitor().get("/auth/oidc/login")
        url = urlsplit(r.headers["location"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert f"{url.scheme}://{url.netloc}" == oidc_provider.issuer
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43 and len(query["state"]) >= 32 and len(query["nonce"]) >= 32
        assert query["redirect_uri"] == f"{sso_stack.url}/auth/oidc/callback"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Path=/auth/oidc" in cookie and "SameSite=lax" in cookie

    def test_signing_in_creates_the_user_with_the_mapped_groups(self, sso_stack: Stack,
                                                               oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        sub = person(oidc_provider, "ML Leads", "Everyone")
        visitor = sso_stack.visitor()
        r = sso_sign_in(visitor, sub)
        assert r.headers["location"] == "/" and visitor.session_cookie
        page = visitor.get("/queue")
        assert f">{sub}<" in page.text and 'title="ml-leads"' in page.text

    def test_a_replayed_state_is_refused(self, sso_stack: Stack, oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        sub = person(oidc_provider, "ML Leads")
        visitor = sso_stack.visitor()
        callback, pending = start_sso(visitor, sub)
        assert visitor.get(callback).status_code == 303
        # An attacker who captured the callback URL and the browser's cookie replays both.
        with httpx.Client(base_url=sso_stack.url, cookies={"signoff_oidc": pending}) as attacker:
            replay = attacker.get(callback)
        assert replay.status_code == 401
        assert "already used" in replay.text
        assert "signoff_session" not in replay.cookies

    def test_a_callback_from_another_browser_is_refused(self, sso_stack: Stack,
                                                       oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        sub = person(oidc_provider, "ML Leads")
        callback, _ = start_sso(sso_stack.visitor(), sub)
        victim = sso_stack.visitor()
        victim.get("/auth/oidc/login")  # a sign-in of their own is under way: a different state
        r = victim.get(callback)
        assert r.status_code == 401 and "state mismatch" in r.text
        assert victim.session_cookie is None

    def test_a_callback_without_the_pending_cookie_is_refused(self, sso_stack: Stack,
                                                             oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        callback, _ = start_sso(sso_stack.visitor(), person(oidc_provider))
        with httpx.Client() as stranger:
            r = stranger.get(callback)
        assert r.status_code == 401 and "not recognised" in r.text

    def test_an_error_from_the_provider_is_shown_and_signs_nobody_in(self, sso_stack: Stack) -> None:
        visitor = sso_stack.visitor()
        r = visitor.get("/auth/oidc/login")
        state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
        r = visitor.get(f"/auth/oidc/callback?error=access_denied&error_description=denied+by+user&state={state}")
        assert r.status_code == 401 and "denied by user" in r.text and visitor.session_cookie is None


class TestGroupsClaimDecides:
    def test_the_groups_claim_decides_who_may_approve_prod(self, sso_stack: Stack,
                                                           oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        _, request_id = prod_request(sso_stack.ctx)
        lead, officer, nobody = (sso_stack.visitor() for _ in range(3))
        sso_sign_in(nobody, person(oidc_provider, "Everyone", "ml-leads"))  # unmapped spellings grant nothing
        sso_sign_in(lead, person(oidc_provider, "ML Leads"))
        sso_sign_in(officer, person(oidc_provider, "Risk Office"))
        assert post_decision(nobody, request_id).status_code == 403
        assert lead.decide(request_id, "approve").status_code == 303
        assert officer.decide(request_id, "approve").status_code == 303
        assert "approved" in lead.get(f"/requests/{request_id}").text.lower()

    def test_a_group_removed_at_the_provider_is_noticed_at_decision_time(
            self, sso_stack: Stack, oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        sub = person(oidc_provider, "ML Leads")
        visitor = sso_stack.visitor()
        sso_sign_in(visitor, sub)
        _, request_id = prod_request(sso_stack.ctx)
        oidc_provider.set_user(sub, preferred_username=f"{sub}@example.com", groups=["Everyone"])
        directory_for(sso_stack.ctx).forget(sub)  # as if membership_ttl had passed
        assert post_decision(visitor, request_id).status_code == 403

    def test_a_provider_that_is_down_at_decision_time_fails_closed(
            self, sso_stack: Stack, oidc_provider: OidcProviderServer) -> None:  # noqa: F811
        sub = person(oidc_provider, "ML Leads")
        visitor = sso_stack.visitor()
        sso_sign_in(visitor, sub)
        _, request_id = prod_request(sso_stack.ctx)
        directory_for(sso_stack.ctx).forget(sub)
        oidc_provider.stop()
        try:
            r = post_decision(visitor, request_id)
        finally:
            oidc_provider.start()
        assert r.status_code == 503 and "unavailable" in r.text


# --------------------------------------------------------------------------- Chromium


def in_chromium(steps: Callable[[Any], None]) -> None:
    """Run `steps(page)` in Chromium on a thread of its own.

    Playwright's sync API allows one instance per thread, and another module's session-scoped
    browser may be holding the main thread's; a thread of our own never collides with it.
    """
    if not Path(CHROMIUM).exists():
        unavailable("Chromium not found at /usr/bin/chromium; apt-get install chromium")
    failures: list[BaseException] = []

    def run() -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    context = browser.new_context()
                    # Only loopback: the provider's page links a stylesheet on a CDN, never to be fetched.
                    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/]).*"),
                                  lambda route: route.abort())
                    page = context.new_page()
                    page.set_default_timeout(15_000)
                    steps(page)
                finally:
                    browser.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run, name="chromium", daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the browser steps did not finish within 120 s"
    if failures:
        raise failures[0]


class TestInChromium:
    def test_a_directory_user_signs_in_in_the_browser(self, sso_stack: Stack, tmp_path: Path) -> None:
        def steps(page: Any) -> None:
            page.goto(f"{sso_stack.url}/signin")
            page.fill("input[name=name]", "carol")
            page.fill("input[name=password]", "carol-password")
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(re.escape(sso_stack.url) + r"/(?!signin).*"))
            assert page.inner_text(".user") == "carol"
            page.screenshot(path=str(tmp_path / "ldap-signed-in.png"))

        in_chromium(steps)

    def test_single_sign_on_through_the_provider_then_approve(
            self, sso_stack: Stack, oidc_provider: OidcProviderServer, tmp_path: Path) -> None:  # noqa: F811
        sub = person(oidc_provider, "ML Leads")
        _, request_id = prod_request(sso_stack.ctx)

        def steps(page: Any) -> None:
            page.goto(f"{sso_stack.url}/requests/{request_id}")
            page.wait_for_url(re.compile(r".*/signin\?next=.*"))
            page.screenshot(path=str(tmp_path / "signin-with-sso.png"))
            page.click("#sso")
            page.wait_for_url(re.compile(re.escape(oidc_provider.issuer) + r"/oauth2/authorize.*"))
            page.fill("input[name=sub]", sub)
            page.click("button[type=submit]:has-text('Authorize')")
            page.wait_for_url(f"{sso_stack.url}/requests/{request_id}")
            assert page.inner_text(".user") == sub
            page.click("button[name=decision][value=approve]")
            page.wait_for_url(re.compile(rf".*/requests/{request_id}\?decided=approve"))
            page.screenshot(path=str(tmp_path / "sso-approved.png"))

        in_chromium(steps)
        decisions = sso_stack.visitor()
        decisions.sign_in("olga")
        assert re.search(rf">\s*{sub}\s*<", decisions.get(f"/requests/{request_id}").text)
