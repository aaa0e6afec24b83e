"""`/docs` and `/redoc` render in a real browser with no internet access, from the package's own
files, under the same Content-Security-Policy as the app's pages (Debian's Chromium via Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from signoff.bootstrap import Context
from signoff.entrypoints.api import create_app
from signoff.entrypoints.web.common import PAGE_HEADERS
from tests.e2e.test_browser import OUTPUT, chromium, shot  # noqa: F401 (the Chromium fixture)
from tests.fixtures.servers import free_port
from tests.fixtures.web import ServerThread


@pytest.fixture
def server(ctx: Context) -> Iterator[ServerThread]:
    thread = ServerThread(create_app(ctx), free_port()).start()
    yield thread
    thread.stop()


@pytest.fixture
def offline_page(chromium: Any, server: ServerThread) -> Iterator[tuple[Any, list[str], list[str]]]:  # noqa: F811
    """A page that can reach only the server: anything else is refused and noted, as are the
    browser's console errors (a Content-Security-Policy violation is one)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    origin = urlsplit(server.url).netloc
    outside: list[str] = []
    errors: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if urlsplit(url).netloc == origin or url.startswith(("data:", "blob:")):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort("internetdisconnected")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page, outside, errors
    context.close()


class TestTheApiReferencePages:
    def test_swagger_ui_renders_offline(self, offline_page: tuple[Any, list[str], list[str]],
                                        server: ServerThread) -> None:
        page, outside, errors = offline_page
        page.goto(server.url + "/docs")
        page.locator(".swagger-ui .info .title").filter(has_text="signoff").wait_for()
        page.get_by_text("/api/v1/models/{model}/versions", exact=True).first.wait_for()
        shot(page, "api-docs-swagger.png")
        assert outside == [] and errors == [], (outside, errors)

    def test_redoc_renders_offline(self, offline_page: tuple[Any, list[str], list[str]],
                                   server: ServerThread) -> None:
        page, outside, errors = offline_page
        page.goto(server.url + "/redoc")
        page.get_by_role("heading", name="signoff").first.wait_for()
        page.get_by_text("Register the next version of a model", exact=False).first.wait_for()
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "api-docs-redoc.png"))  # the top only: the page is very long
        assert outside == [] and errors == [], (outside, errors)

    @pytest.mark.parametrize("path", ["/docs", "/redoc"])
    def test_they_carry_the_app_pages_security_headers_and_no_outside_url(self, server: ServerThread,
                                                                          path: str) -> None:
        response = httpx.get(server.url + path)
        assert response.status_code == 200
        for name, value in PAGE_HEADERS.items():
            if name == "Content-Security-Policy" and path == "/redoc":
                # Redoc alone also needs inline styles and a blob: worker; never more.
                assert response.headers[name] == f"{value}; style-src 'self' 'unsafe-inline'; worker-src blob:"
            else:
                assert response.headers.get(name) == value, name
        assert "http://" not in response.text and "https://" not in response.text
        assert "<script>" not in response.text  # no inline script for the policy to allow
        for asset in ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/vendor/redoc/redoc.standalone.js",
                      "/static/vendor/swagger-ui/swagger-ui.css", "/static/docs.js"):
            assert httpx.get(server.url + asset).status_code == 200, asset
