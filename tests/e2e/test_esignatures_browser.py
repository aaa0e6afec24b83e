"""An electronic signature in a real browser (Debian's Chromium through Playwright): the review
form asks for the meaning and the password, and the page then shows who signed, when and what
it means. The screenshot goes to `test-output/signature.png` for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff.sdk._embedded import EmbeddedClient
from signoff.services.ports import FixedClock
from tests.conftest import ENVIRONMENTS, unique
from tests.e2e.test_browser import browser_context, chromium, register, shot, sign_in_through_the_form  # noqa: F401
from tests.fixtures.servers import SmtpServer
from tests.fixtures.web import PASSWORDS, Stack, build_stack

MEANINGS = ["Approved for release to dev", "Approved for release to dev for a limited pilot"]


@pytest.fixture
def signing_stack(tmp_path: Path, smtp_server: SmtpServer, clock: FixedClock) -> Iterator[Stack]:
    envs = {**ENVIRONMENTS, "dev": {**ENVIRONMENTS["dev"], "signature": "reauth", "meanings": MEANINGS}}
    built = build_stack(tmp_path, smtp_server, clock, environments=envs)
    yield built
    built.close()
    built.server.stop()
    built.ctx.close()


class TestSigningInTheBrowser:
    def test_the_signature_shows_name_time_and_meaning(self, signing_stack: Stack,
                                                       browser_context: Any) -> None:  # noqa: F811
        stack = signing_stack
        model = unique("churn")
        register(stack, model)
        page = browser_context.new_page()
        page.goto(f"{stack.url}/requests/1")
        sign_in_through_the_form(page, "rita")
        page.wait_for_url("**/requests/1")
        assert page.get_by_text("Electronic signature").first.is_visible()
        page.get_by_label("Meaning of your signature").select_option(MEANINGS[1])
        page.get_by_label("Your password (signing requires you to authenticate again)").first.fill(PASSWORDS["rita"])
        page.get_by_role("button", name="Approve v1 for dev").click()
        page.wait_for_url("**/requests/1?decided=approve")
        signature = page.locator("li.signature")
        assert signature.count() == 1
        text = signature.inner_text()
        assert "rita" in text and f"“{MEANINGS[1]}”" in text and "2026-11-25 12:00:00 UTC" in text
        assert shot(page, "signature.png").stat().st_size > 10_000
        [recorded] = EmbeddedClient(actor="rita", context=stack.ctx).request(1).decisions
        assert recorded.actor == "rita"
