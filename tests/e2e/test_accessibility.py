"""Accessibility of the web UI, checked by axe-core in Debian's Chromium, light and dark.

axe-core is vendored under tests/assets/axe-core (see its README) and injected into each page;
the pages' CSP forbids injected scripts, so these contexts bypass CSP (nothing else changes).
Screenshots of each page go to `test-output/a11y-*.png` (light and dark) and
`test-output/screen-{1280,390}-*.png` (desktop and phone width).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signoff.sdk._embedded import EmbeddedClient
from signoff.services import rules
from tests.conftest import unique
from tests.e2e.test_browser import PHONE, chromium, link_for, register, shot, sign_in_through_the_form  # noqa: F401
from tests.e2e.test_finding_journeys import finding_tour
from tests.fixtures.servers import free_port
from tests.fixtures.web import PASSWORDS, Stack, build_stack, stack  # noqa: F401
from tests.e2e.test_web_pictures import build_drift_story

AXE = Path(__file__).resolve().parents[1] / "assets" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' — ' + n.failureSummary)}));
}"""


def build_tour(stack: Stack) -> dict[str, str]:
    """A model with history in every state the pages show; returns page name → path."""
    model = unique("fraud")
    rules.add_rule(uow=stack.ctx.uow(), actor="root", python_targets=(), spec={
        "name": "notify-deploys", "description": "Tell the deploy service about dev approvals.",
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
    register(stack, model, accuracy=0.97, f1=0.96)  # request 6: v4 in dev, v2 live there
    story = build_drift_story(stack)  # a drifted batch behind a test request, a rollback, a rejection
    return {**picture_pages(story), "queue": "/queue", "models": "/models", "models-search": "/models?q=fraud&live=dev",
            "board": f"/models/{model}", "version": f"/models/{model}/versions/2",
            "review-open": "/requests/6", "review-promotion": "/requests/4", "review-rejected": "/requests/5",
            "parameters": "/parameters", "parameter": f"/parameters?name=/signoff/models/{model}/dev",
            "parameter-empty": f"/parameters?name=/signoff/models/{model}/prod",
            "rules": "/rules", "dead-letters": "/deliveries?state=dead", "people": "/admin/users",
            "person": "/admin/users/dana", "not-found": "/no/such/page", "bad-id": f"/models/{model}/versions/x",
            **finding_tour(stack, model)}


def picture_pages(story: dict[str, Any]) -> dict[str, str]:
    """The pages with charts: the model page (live over time, trends), the drift review, a comparison."""
    model = story["model"]
    return {"model-history": f"/models/{model}", "review-drift": f"/requests/{story['drift_request']}",
            "compare": f"/models/{model}/compare?a=1&b=2"}


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]


class TestAxe:
    @pytest.mark.parametrize("scheme", ["light", "dark"])
    def test_every_page_has_no_serious_or_critical_violations(
        self, tmp_path: Path, smtp_server: Any, clock: Any, chromium: Any, scheme: str,  # noqa: F811
    ) -> None:
        stack = build_stack(tmp_path, smtp_server, clock, events={"max_attempts": 1})
        context = chromium.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme, bypass_csp=True)
        try:
            pages = build_tour(stack)
            page = context.new_page()
            page.goto(f"{stack.url}/signin")
            found: dict[str, list[dict[str, Any]]] = {}
            page.add_script_tag(path=str(AXE))
            found["signin"] = serious(page.evaluate(RUN_AXE))
            sign_in_through_the_form(page, "root")
            page.wait_for_url("**/queue")
            for name, path in pages.items():
                response = page.goto(stack.url + path)
                assert response is not None and response.status < 500, (name, path)
                page.add_script_tag(path=str(AXE))
                found[name] = serious(page.evaluate(RUN_AXE))
                shot(page, f"a11y-{scheme}-{name}.png")
            assert {k: v for k, v in found.items() if v} == {}
        finally:
            context.close()
            stack.close()
            stack.server.stop()
            stack.ctx.close()


class TestEveryPageOnTwoScreens:
    @pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["1280", "390"])
    def test_every_page_fits_the_screen_and_is_saved_as_a_picture(
        self, tmp_path: Path, smtp_server: Any, clock: Any, chromium: Any, viewport: dict[str, int],  # noqa: F811
    ) -> None:
        """Every page of the tour at desktop and phone width: none scrolls sideways (wide tables
        scroll inside their own box), and `test-output/screen-<width>-<page>.png` is there to look at."""
        stack = build_stack(tmp_path, smtp_server, clock, events={"max_attempts": 1})
        context = chromium.new_context(viewport=viewport)
        try:
            pages = build_tour(stack)
            page = context.new_page()
            page.goto(f"{stack.url}/signin")
            shot(page, f"screen-{viewport['width']}-signin.png")
            sign_in_through_the_form(page, "root")
            page.wait_for_url("**/queue")
            too_wide = {}
            for name, path in pages.items():
                response = page.goto(stack.url + path)
                assert response is not None and response.status < 500, (name, path)
                shot(page, f"screen-{viewport['width']}-{name}.png")
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > viewport["width"]:
                    too_wide[name] = width
            assert too_wide == {}, f"pages wider than {viewport['width']} px: {too_wide}"
        finally:
            context.close()
            stack.close()
            stack.server.stop()
            stack.ctx.close()


def tab_to(page: Any, accessible_name: str, limit: int = 40) -> int:
    """Press Tab until the focused element is the one named; returns how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        name = page.evaluate("""() => { const e = document.activeElement;
            return (e.getAttribute('aria-label') || e.textContent || e.value || '').trim(); }""")
        if name == accessible_name:
            return presses
    raise AssertionError(f"{accessible_name!r} is not reachable with Tab")


class TestKeyboardAndPhone:
    def test_an_approver_goes_from_the_email_to_approved_with_the_keyboard_only(
        self, stack: Stack, chromium: Any,  # noqa: F811
    ) -> None:
        model = unique("churn")
        register(stack, model)
        stack.smtp.wait_for(2)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.goto(link_for(stack, "rita@example.com"))
            # the form starts in the user name (autofocus lands once the page has rendered)
            page.wait_for_function("document.activeElement && document.activeElement.name === 'name'")
            page.keyboard.type("rita")
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORDS["rita"])
            page.keyboard.press("Enter")
            page.wait_for_url("**/review/1?t=*")
            tab_to(page, "Approve v1 for dev")
            ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
                return [s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
            assert ring[0] != "none" and ring[1] >= 2, ring  # a visible focus indicator
            page.keyboard.press("Enter")
            page.wait_for_url("**/requests/1?decided=approve")
            assert page.get_by_text("Your approval is recorded.").is_visible()
            assert EmbeddedClient(actor="dana", context=stack.ctx).resolve(model, "dev").version == 1
        finally:
            context.close()

    def test_the_skip_link_is_first_and_moves_focus_to_the_content(self, stack: Stack, chromium: Any) -> None:  # noqa: F811
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.goto(f"{stack.url}/signin")
            sign_in_through_the_form(page, "dana")
            page.wait_for_url("**/queue")
            page.goto(f"{stack.url}/models")
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.textContent.trim()")
            assert focused == "Skip to main content"
            assert page.locator("a.skip").is_visible()  # visible while focused
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "main"
        finally:
            context.close()

    def test_the_pictures_fit_a_phone_and_a_laptop(self, stack: Stack, chromium: Any) -> None:  # noqa: F811
        pages = picture_pages(build_drift_story(stack))
        for name, viewport in (("1280", {"width": 1280, "height": 900}), ("390", PHONE)):
            context = chromium.new_context(viewport=viewport, device_scale_factor=1 if name == "1280" else 2)
            try:
                page = context.new_page()
                page.goto(f"{stack.url}/signin")
                sign_in_through_the_form(page, "ron")
                page.wait_for_url("**/queue")
                for key, path in pages.items():
                    page.goto(stack.url + path)
                    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                    # nothing pushes the page sideways; wide charts scroll inside their own box
                    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (key, name)
                    assert page.locator("svg.chart").count() >= 1, key
                    shot(page, f"pictures-{key}-{name}.png")
            finally:
                context.close()

    def test_the_evidence_table_is_readable_at_390_px(self, stack: Stack, chromium: Any) -> None:  # noqa: F811
        pages = build_tour(stack)
        context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        try:
            page = context.new_page()
            page.goto(f"{stack.url}/signin?next={pages['review-open']}")
            sign_in_through_the_form(page, "rita")
            page.wait_for_url("**/requests/6")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            delta = page.locator("table.metrics thead th", has_text="Δ")
            assert delta.count() == 1
            # the whole table, Δ included, is on screen without scrolling sideways
            assert page.evaluate("""() => { const w = document.querySelector('table.metrics').closest('.table-wrap');
                                            return w.scrollWidth <= w.clientWidth; }""")
            box = delta.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
            first_delta = page.locator("table.metrics tbody tr").first.locator("td").last
            cell = first_delta.bounding_box()
            assert cell is not None and cell["x"] + cell["width"] <= PHONE["width"], cell
            shot(page, "a11y-review-phone.png")
        finally:
            context.close()
