"""Journeys through the finding and administration pages in Debian's Chromium (Playwright).

A data scientist finds her submission among 1,000 models and reads where it stands; an auditor
finds who approved what in prod last month and downloads the evidence pack. Screenshots of each
page at 1280 and 390 px go to `test-output/find-*.png`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from signoff.sdk._embedded import EmbeddedClient
from signoff.services import registry, rules, tokens
from tests.conftest import DIGEST, unique
from tests.e2e.test_browser import PHONE, chromium, shot, sign_in_through_the_form  # noqa: F401
from tests.fixtures.servers import free_port
from tests.fixtures.web import Stack, build_stack, stack  # noqa: F401

DESKTOP = {"width": 1280, "height": 900}


def as_(stack: Stack, user: str) -> EmbeddedClient:
    return EmbeddedClient(actor=user, context=stack.ctx)


def register(stack: Stack, model: str, actor: str = "dana") -> int:
    return int(as_(stack, actor).register(model, f"s3://models/{model}.joblib", digest=DIGEST,
                                          metrics={"accuracy": 0.95, "f1": 0.94}, owner_group="data-science",
                                          run_id="run-7", code_commit="c0ffee1", dataset_hash="sha256:abc").version)


def to_prod(stack: Stack, model: str, version: int) -> None:
    """dev (rita), test (ron), uat (uma), prod (paula and pete: one of each group)."""
    as_(stack, "rita").approve(model, version, "dev")
    for env, approvers in (("test", ["ron"]), ("uat", ["uma"]), ("prod", ["paula", "pete"])):
        as_(stack, "dana").request_promotion(model, version, env)
        for who in approvers:
            as_(stack, who).approve(model, version, env, comment=f"{env} looks right")


def signed_in_page(stack: Stack, chromium: Any, user: str, viewport: dict[str, int] = DESKTOP) -> tuple[Any, Any]:  # noqa: F811
    phone = viewport["width"] < 600
    context = chromium.new_context(viewport=viewport, device_scale_factor=2 if phone else 1, is_mobile=phone,
                                   has_touch=phone, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{stack.url}/signin")
    sign_in_through_the_form(page, user)
    page.wait_for_url("**/queue")
    return context, page


def fits(page: Any, width: int) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth") <= width)


class TestADataScientistFindsHerSubmission:
    def test_among_a_thousand_models_she_sees_where_her_version_stands(
        self, stack: Stack, chromium: Any,  # noqa: F811
    ) -> None:
        for i in range(1000):
            registry.create_model(uow=stack.ctx.uow(), name=f"model-{i:04d}", actor="eve", owner_group="risk")
        for i in range(0, 1000, 97):
            register(stack, f"model-{i:04d}", actor="eve")
        mine = "model-0421"
        register(stack, mine)
        as_(stack, "rita").approve(mine, 1, "dev", comment="good")
        as_(stack, "dana").request_promotion(mine, 1, "test")
        context, page = signed_in_page(stack, chromium, "dana")
        try:
            page.get_by_role("link", name="My submissions").click()
            page.wait_for_url("**/submissions")
            row = page.get_by_role("row").filter(has_text=f"{mine} v1")
            assert row.count() == 1
            cells = row.get_by_role("cell")
            assert [cells.nth(i).locator(".badge").inner_text() for i in range(4)] == [
                "approved", "waiting for approval", "not requested", "not requested"]
            assert "● live" in cells.nth(0).inner_text()
            assert page.get_by_text("Showing 1–1 of 1 versions").is_visible()
            shot(page, "find-journey-submissions.png")
            # and from the models list: search the name among the thousand, open its board
            page.get_by_role("link", name="Models", exact=True).click()
            assert page.get_by_text("of 1000 models").first.is_visible()
            page.get_by_label("Name contains").fill("0421")
            page.get_by_role("button", name="Search").click()
            page.get_by_role("link", name=mine).click()
            page.wait_for_url(f"**/models/{mine}")
            review = page.get_by_role("link", name=re.compile(r"^review #\d+$"))
            assert review.count() == 1
            review.click()
            page.wait_for_url("**/requests/*")
            assert page.get_by_role("heading", level=1).inner_text().startswith(mine)
            shot(page, "find-journey-review.png")
        finally:
            context.close()


class TestAnAuditorFindsWhoApprovedWhatInProd:
    def test_last_months_prod_approvals_lead_to_the_evidence_pack(
        self, stack: Stack, chromium: Any, tmp_path: Path,  # noqa: F811
    ) -> None:
        model, other = unique("credit"), unique("churn")
        register(stack, model)
        to_prod(stack, model, 1)
        register(stack, other)
        as_(stack, "rita").approve(other, 1, "dev")  # approved, but not in prod
        stack.clock.advance(days=20)  # 2026-12-15: the approvals were last month
        register(stack, model)
        to_prod(stack, model, 2)  # this month's: must not be in November's answer
        context, page = signed_in_page(stack, chromium, "eve")
        try:
            page.get_by_role("link", name="Requests", exact=True).click()
            page.locator("select[name=state]").select_option("approved")
            page.locator("select[name=env]").select_option("prod")
            page.get_by_label("Decided from").fill("2026-11-01")
            page.get_by_label("Decided until").fill("2026-11-30")
            page.get_by_role("button", name="Search").click()
            page.wait_for_url("**/requests?*")
            assert page.get_by_text("Showing 1–1 of 1 requests").is_visible()
            row = page.get_by_role("row").filter(has_text=f"{model} v1")
            assert "✓ approved paula" in row.inner_text() and "✓ approved pete" in row.inner_text()
            shot(page, "find-journey-auditor-requests.png")
            # the audit log says the same, entry by entry, and links to the version
            page.goto(f"{stack.url}/audit")
            page.locator("select[name=action]").select_option("approval.approved")
            page.get_by_label("From", exact=True).fill("2026-11-01")
            page.get_by_label("Until", exact=True).fill("2026-11-30")
            page.get_by_label("Model name", exact=True).fill(model)
            page.get_by_role("button", name="Search").click()
            page.wait_for_url("**/audit?*")
            prod_rows = page.get_by_role("row").filter(has_text="prod")
            assert sorted(prod_rows.nth(i).get_by_role("cell").nth(2).inner_text() for i in range(prod_rows.count())) \
                == ["paula", "pete"]
            shot(page, "find-journey-auditor-audit.png")
            prod_rows.first.get_by_role("link", name=f"models/{model}/versions/1").click()
            page.wait_for_url(f"**/models/{model}/versions/1")
            with page.expect_download() as download:
                page.get_by_role("link", name="JSON").click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
            assert saved.name == f"evidence-{model}-v1.json"
            pack = json.loads(saved.read_text())
            text = json.dumps(pack)
            assert "paula" in text and "pete" in text and model in text
        finally:
            context.close()


def build_pages(stack: Stack) -> dict[str, str]:
    """Data for every finding and administration page; returns page name → path."""
    model = unique("fraud")
    rules.add_rule(uow=stack.ctx.uow(), actor="root", python_targets=(), spec={
        "name": "notify-deploys", "description": "Tell the deploy service about dev approvals.",
        "pattern": {"type": ["signoff.version.approved"], "data": {"env": ["dev"]}},
        "targets": [{"type": "webhook", "url": f"http://deploy:hunter2@127.0.0.1:{free_port()}/hook",
                     "secret": "whsec-shh"}]})
    register(stack, model)
    as_(stack, "rita").approve(model, 1, "dev", comment="baseline")
    register(stack, model)
    as_(stack, "rita").reject(model, 2, "dev", comment="accuracy regressed on the new extract")
    register(stack, model, actor="root")
    return finding_tour(stack, model)


def finding_tour(stack: Stack, model: str) -> dict[str, str]:
    """The finding and administration pages over a stack that has `model` and the rule
    notify-deploys; adds an API token. Also used by the accessibility check."""
    tokens.create_token(uow=stack.ctx.uow(), user="dana", scopes=["register", "resolve"], actor="root",
                        name="training pipeline")
    return {"versions": f"/versions?model={model}", "submissions": "/submissions", "requests": "/requests",
            "requests-waiting": "/requests?show=waiting", "audit": "/audit",
            "audit-search": f"/audit?model={model}&action=version.approved", "admin-tokens": "/admin/tokens",
            "admin-token-revoke": "/admin/tokens/1/revoke", "admin-rules": "/admin/rules",
            "admin-rule-disable": "/admin/rules/notify-deploys/disable",
            "admin-deliveries": "/admin/deliveries?rule=notify-deploys"}


class TestScreenshots:
    @pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
    def test_each_page_fits_the_screen(
        self, tmp_path: Path, smtp_server: Any, clock: Any, chromium: Any, viewport: dict[str, int],  # noqa: F811
    ) -> None:
        stack = build_stack(tmp_path, smtp_server, clock, events={"max_attempts": 1})
        try:
            pages = build_pages(stack)
            context, page = signed_in_page(stack, chromium, "root", viewport)
            too_wide = {}
            for name, path in pages.items():
                response = page.goto(stack.url + path)
                assert response is not None and response.status == 200, (name, path)
                shot(page, f"find-{viewport['width']}-{name}.png")
                if not fits(page, viewport["width"]):
                    too_wide[name] = page.evaluate("document.documentElement.scrollWidth")
            assert too_wide == {}
            # a token's value appears once, on the page that created it
            page.goto(stack.url + "/admin/tokens")
            page.get_by_label("Name (what it is for)").fill("nightly resolve")
            page.get_by_role("button", name="Create token").click()
            value = page.get_by_label("The token").input_value()
            assert value.startswith("so_")
            shot(page, f"find-{viewport['width']}-admin-token-created.png")
            page.goto(stack.url + "/admin/tokens")
            assert value not in page.content()
            context.close()
        finally:
            stack.close()
            stack.server.stop()
            stack.ctx.close()
