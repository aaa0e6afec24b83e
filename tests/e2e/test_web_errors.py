"""What a browser sees when there is nothing to show: pages in the site's layout, never raw JSON.

Real uvicorn on loopback. Browsers send `Accept: text/html…` on navigation; API clients do not,
and keep getting the JSON error body.
"""

from __future__ import annotations

from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, unique
from tests.fixtures.web import Stack, Visitor, stack  # noqa: F401

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"}


def signed_in(stack: Stack, user: str = "dana") -> Visitor:
    visitor = stack.visitor()
    visitor.sign_in(user)
    return visitor


def assert_page(response: object, status: int, *texts: str) -> str:
    assert response.status_code == status, (response.status_code, response.text[:400])  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("text/html"), response.headers  # type: ignore[attr-defined]
    html: str = response.text  # type: ignore[attr-defined]
    assert '<header class="topbar">' in html and '<main class="page"' in html  # the site's layout
    assert response.headers["x-frame-options"] == "DENY"  # type: ignore[attr-defined]
    for text in texts:
        assert text in html, (text, html[-1500:])
    return html


def assert_json(response: object, status: int, code: str) -> None:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/json"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body["error"]) == {"code", "message", "details"} and body["error"]["code"] == code, body


class TestEmptyEnvironments:
    def test_an_environment_nothing_was_approved_in_says_so(self, stack: Stack) -> None:  # noqa: F811
        model = unique()
        EmbeddedClient(actor="dana", context=stack.ctx).register(model, "s3://m/m.pkl", digest=DIGEST,
                                                                  metrics={"accuracy": 0.95})
        dana = signed_in(stack)
        board = dana.get(f"/models/{model}").text
        assert f'href="/parameters?name=/signoff/models/{model}/prod"' in board
        page = dana.get("/parameters", params={"name": f"/signoff/models/{model}/prod"})
        assert_page(page, 200, "Nothing is live in prod yet", f'<a href="/models/{model}">{model}</a>')
        assert "Not found" not in page.text

    def test_a_parameter_of_no_model_is_still_not_found(self, stack: Stack) -> None:  # noqa: F811
        dana = signed_in(stack)
        for name in (f"/signoff/models/{unique()}/prod", f"/signoff/models/{unique()}/staging", "/nope"):
            assert_page(dana.get("/parameters", params={"name": name}), 404, "Not found")


class TestBrowsersGetPages:
    def test_an_unknown_path_is_a_page_for_browsers_and_json_for_clients(self, stack: Stack) -> None:  # noqa: F811
        dana = signed_in(stack)
        assert_page(dana.get("/no/such/page", headers=BROWSER), 404, "Not found", "There is no page at this address",
                    'href="/queue"')
        assert_page(stack.visitor().get("/no/such/page", headers=BROWSER), 404, "Not found", 'href="/signin"')
        assert_json(dana.get("/no/such/page"), 404, "not_found")
        assert_json(dana.get("/no/such/page", headers={"Accept": "application/json"}), 404, "not_found")
        assert_json(dana.get("/api/v1/no/such/thing", headers=BROWSER), 404, "not_found")

    def test_bad_ids_are_pages_for_browsers_and_json_for_clients(self, stack: Stack) -> None:  # noqa: F811
        dana = signed_in(stack)
        model = unique()
        for path in (f"/models/{model}/versions/abc", f"/models/{model}/versions/0", "/requests/abc",
                     "/requests/99999999999999", "/models?page=0", "/models?page=x", f"/models/{'x' * 200}"):
            html = assert_page(dana.get(path, headers=BROWSER), 422, "That address is not valid")
            assert '"error"' not in html
            assert_json(dana.get(path), 422, "invalid_input")
        # ids that are well formed but name nothing were already pages (the handler raises NotFound)
        assert_page(dana.get(f"/models/{model}/versions/3", headers=BROWSER), 404, "Not found", model)

    def test_a_wrong_method_is_a_page_for_browsers(self, stack: Stack) -> None:  # noqa: F811
        dana = signed_in(stack)
        response = dana.get("/signout", headers=BROWSER)
        assert_page(response, 405, "This page cannot be opened that way")
        assert "allow" in response.headers
