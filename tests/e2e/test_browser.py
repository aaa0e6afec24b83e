"""Approving in a real browser: Playwright driving Debian's Chromium (never a downloaded one).

Each test reads the approval email the SMTP server caught, opens its link in Chromium, signs
in through the form and clicks. Screenshots of the board and the review page go to
`test-output/` (desktop and phone sizes) for people to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff.errors import NotFound
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import queries
from tests.conftest import DIGEST, unique
from tests.fixtures.servers import unavailable
from tests.fixtures.web import PASSWORDS, Stack, review_links

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium for this module; closed at its end so other modules may start their own."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()


def shot(page: Any, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path), full_page=True)
    return path


def register(stack: Stack, model: str, **metrics: float) -> None:
    EmbeddedClient(actor="dana", context=stack.ctx).register(
        model, f"s3://models/{model}.joblib", digest=DIGEST, metrics=metrics or {"accuracy": 0.953, "f1": 0.962},
        run_id="run-2026-11-25", code_commit="9f8e7d6", dataset_hash="sklearn:breast_cancer", flavor="sklearn",
        owner_group="data-science", metadata={"algorithm": "LogisticRegression"})


def sign_in_through_the_form(page: Any, user: str) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()


def link_for(stack: Stack, address: str) -> str:
    mails = [m for m in stack.mails_to(address) if review_links(m)]
    assert mails, f"no review link mailed to {address}"
    return review_links(mails[-1])[0]


class TestAnApproverInTheBrowser:
    def test_signs_in_opens_the_emailed_link_and_approves(self, stack: Stack, browser_context: Any) -> None:
        model = unique("churn")
        register(stack, model)
        stack.smtp.wait_for(2)
        page = browser_context.new_page()

        page.goto(link_for(stack, "rita@example.com"))
        assert "/signin" in page.url  # the link itself asks for sign-in and changes nothing
        sign_in_through_the_form(page, "rita")
        page.wait_for_url("**/review/1?t=*")
        assert page.get_by_role("heading", name=f"{model} v1 → dev").is_visible()
        assert page.get_by_text("No decision yet.").is_visible()
        shot(page, "review-page.png")

        page.get_by_role("button", name="Approve v1 for dev").click()
        page.wait_for_url("**/requests/1?decided=approve")
        assert page.get_by_text("Your approval is recorded.").is_visible()
        assert page.locator(".row.head .badge").inner_text() == "approved"

        page.goto(f"{stack.url}/models/{model}")
        live = page.locator("td.cell.is-live")
        assert live.count() == 1 and "live" in live.inner_text()
        shot(page, "board.png")
        assert queries.get_parameter(uow=stack.ctx.uow(), name=f"/signoff/models/{model}/dev")["value"]["version"] == 1

    def test_rejects_with_a_comment(self, stack: Stack, browser_context: Any) -> None:
        model = unique("churn")
        register(stack, model)
        stack.smtp.wait_for(2)
        page = browser_context.new_page()
        page.goto(link_for(stack, "ron@example.com"))
        sign_in_through_the_form(page, "ron")
        page.wait_for_url("**/review/1?t=*")

        page.get_by_role("button", name="Reject").click()  # the comment is required: the page says so beside the box
        assert "decided=" not in page.url
        assert "a rejection needs a comment" in page.locator("#comment-help").inner_text()
        assert page.get_by_label("Comment (required to reject)").get_attribute("aria-invalid") == "true"
        assert EmbeddedClient(actor="ron", context=stack.ctx).request(1).state == "open"

        page.get_by_label("Comment (required to reject)").fill("Recall on the minority class is too low.")
        page.get_by_role("button", name="Reject").click()
        page.wait_for_url("**/requests/1?decided=reject")
        assert page.locator(".row.head .badge").inner_text() == "rejected"
        assert page.get_by_text("Recall on the minority class is too low.").is_visible()
        stack.smtp.wait_for(3)
        assert any("Rejected" in str(m["Subject"]) for m in stack.mails_to("dana@example.com"))

    def test_a_prod_request_needing_two_approvers_stays_open_after_one(
        self, stack: Stack, chromium: Any, browser_context: Any,
    ) -> None:
        model = unique("churn")
        register(stack, model)
        clients = {u: EmbeddedClient(actor=u, context=stack.ctx) for u in ("dana", "rita", "ron", "uma")}
        clients["rita"].approve(model, 1, "dev")
        clients["dana"].report_inference(model, 1, "dev", metrics={"accuracy": 0.951, "f1": 0.958}, rows=228)
        clients["ron"].approve(model, 1, "test")
        clients["dana"].report_inference(model, 1, "test", metrics={"accuracy": 0.947, "f1": 0.955}, rows=228)
        clients["uma"].approve(model, 1, "uat")
        clients["dana"].report_inference(model, 1, "uat", metrics={"accuracy": 0.949, "f1": 0.957}, rows=228)
        prod = clients["dana"].open_request(model, 1, "prod")

        paula = browser_context.new_page()
        paula.goto(link_for(stack, "paula@example.com"))
        sign_in_through_the_form(paula, "paula")
        paula.wait_for_url("**/review/*?t=*")
        paula.get_by_role("button", name="Approve v1 for prod").click()
        paula.wait_for_url(f"**/requests/{prod.id}?decided=approve")
        assert paula.get_by_text("The request stays open: it still needs one approval from each of risk-office").is_visible()
        assert paula.locator(".row.head .badge").inner_text() == "open"
        assert clients["dana"].request(prod.id).state == "open"
        with pytest.raises(NotFound):
            clients["dana"].resolve(model, "prod")
        shot(paula, "review-prod-one-of-two.png")

        other = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            pete = other.new_page()
            pete.goto(link_for(stack, "pete@example.com"))
            sign_in_through_the_form(pete, "pete")
            pete.wait_for_url("**/review/*?t=*")
            assert pete.get_by_text("paula approved").is_visible()
            pete.get_by_role("button", name="Approve v1 for prod").click()
            pete.wait_for_url(f"**/requests/{prod.id}?decided=approve")
            assert pete.locator(".row.head .badge").inner_text() == "approved"
        finally:
            other.close()
        assert clients["dana"].resolve(model, "prod").approved_by == ["paula", "pete"]


class TestOnAPhone:
    def test_the_review_page_and_the_board_fit_a_phone_screen(self, stack: Stack, chromium: Any) -> None:
        model = unique("churn")
        register(stack, model)
        stack.smtp.wait_for(2)
        context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        try:
            page = context.new_page()
            page.goto(link_for(stack, "rita@example.com"))
            sign_in_through_the_form(page, "rita")
            page.wait_for_url("**/review/1?t=*")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            shot(page, "review-page-phone.png")
            page.goto(f"{stack.url}/models/{model}")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            shot(page, "board-phone.png")
        finally:
            context.close()


class TestEveryPage:
    def test_a_signed_in_user_can_walk_through_every_page(
        self, tmp_path: Path, smtp_server: Any, clock: Any, chromium: Any,
    ) -> None:
        from signoff.services import rules
        from tests.fixtures.servers import free_port
        from tests.fixtures.web import build_stack

        stack = build_stack(tmp_path, smtp_server, clock, events={"max_attempts": 1})
        try:
            model = unique("fraud")
            rules.add_rule(uow=stack.ctx.uow(), actor="root", python_targets=(), spec={
                "name": "notify-deploys", "description": "Tell the deploy service about prod approvals.",
                "pattern": {"type": ["signoff.version.approved"], "data": {"env": ["dev"]}},
                "targets": [{"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook"}]})
            c = {u: EmbeddedClient(actor=u, context=stack.ctx) for u in ("dana", "rita", "ron")}
            register(stack, model, accuracy=0.941, f1=0.93)
            c["rita"].approve(model, 1, "dev", comment="baseline")
            c["dana"].report_inference(model, 1, "dev", metrics={"accuracy": 0.938, "f1": 0.927}, rows=1200)
            c["ron"].approve(model, 1, "test")
            register(stack, model, accuracy=0.962, f1=0.951)
            c["ron"].approve(model, 2, "dev")
            c["dana"].report_inference(model, 2, "dev", metrics={"accuracy": 0.957, "f1": 0.948}, rows=1200)
            register(stack, model, accuracy=0.88, f1=0.86)
            c["rita"].reject(model, 3, "dev", comment="accuracy regressed on the new extract")

            context = chromium.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(f"{stack.url}/signin")
            shot(page, "tour-signin.png")
            sign_in_through_the_form(page, "root")
            pages = {"queue": "/queue", "models": "/models", "board": f"/models/{model}",
                     "version": f"/models/{model}/versions/2", "review-promotion": "/requests/4", "review-rejected": "/requests/5",
                     "parameters": "/parameters", "parameter": f"/parameters?name=/signoff/models/{model}/dev",
                     "rules": "/rules", "dead-letters": "/deliveries?state=dead"}
            for name, path in pages.items():
                response = page.goto(stack.url + path)
                assert response is not None and response.status == 200, (name, path)
                assert page.evaluate("document.documentElement.scrollWidth") <= 1280, name
                shot(page, f"tour-{name}.png")
            assert page.get_by_role("button", name="Replay").count() >= 1
            page.get_by_role("button", name="Replay").first.click()
            # With inline dispatch the replay runs at once: the page shows the state it ended in.
            page.wait_for_url("**/deliveries?state=*&replayed=*")
            context.close()
        finally:
            stack.close()
            stack.server.stop()
            stack.ctx.close()


class TestTheDemoMailbox:
    def test_the_mailbox_shows_the_caught_email_and_its_link_leads_to_the_review(
        self, tmp_path: Path, clock: Any, chromium: Any,
    ) -> None:
        from signoff.demo.mail_catcher import Mailbox
        from signoff.entrypoints.web import set_mail_catcher
        from tests.fixtures.web import build_stack

        catcher = Mailbox(tmp_path / "mailbox")
        catcher.start()
        stack = build_stack(tmp_path, catcher, clock)  # type: ignore[arg-type]  # the demo's catcher is the SMTP server
        set_mail_catcher(stack.server.app, catcher)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            model = unique("churn")
            register(stack, model)
            page = context.new_page()
            page.goto(f"{stack.url}/mailbox")
            assert page.get_by_role("link", name=f"[signoff] approval needed for {model} v1 in dev").count() == 2
            shot(page, "mailbox.png")
            ritas = page.locator("li.mail", has_text="To rita@example.com")
            ritas.get_by_role("link", name=f"[signoff] approval needed for {model} v1 in dev").click()
            assert page.get_by_text("Message-ID").is_visible()
            shot(page, "mailbox-message.png")
            page.go_back()
            ritas.get_by_role("link", name="Open review link").click()
            sign_in_through_the_form(page, "rita")
            page.wait_for_url("**/review/1?t=*")
            assert page.get_by_role("button", name="Approve v1 for dev").is_visible()
        finally:
            context.close()
            stack.close()
            stack.server.stop()
            stack.ctx.close()
            catcher.stop()
