"""The sign-in page a review link leads to says what is waiting, and only for a valid link."""

from __future__ import annotations

from urllib.parse import urlsplit

from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, unique
from tests.fixtures.web import Stack, review_links, stack  # noqa: F401


def emailed_link(stack: Stack) -> tuple[str, str]:
    model = unique("churn")
    EmbeddedClient(actor="dana", context=stack.ctx).register(model, "s3://b/m.pkl", digest=DIGEST,
                                                              metrics={"accuracy": 0.95})
    stack.smtp.wait_for(2)
    parts = urlsplit(review_links(stack.mails_to("rita@example.com")[0])[0])
    return model, f"{parts.path}?{parts.query}"


def test_a_review_link_leads_to_a_sign_in_page_that_names_the_review(stack: Stack) -> None:  # noqa: F811
    model, link = emailed_link(stack)
    visitor = stack.visitor()
    redirect = visitor.get(link)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/signin?next=")
    page = visitor.get(redirect.headers["location"])
    assert f"Sign in to review <strong>{model} v1 for dev</strong>." in page.text
    failed = visitor.http.post("/signin", data={"name": "rita", "password": "wrong", "next": link,
                                                "csrf_token": visitor.csrf(page.text, "/signin")})
    assert failed.status_code == 401 and f"{model} v1 for dev" in failed.text  # still says it after a typo


def test_a_tampered_or_expired_link_or_none_names_nothing(stack: Stack) -> None:  # noqa: F811
    model, link = emailed_link(stack)
    visitor = stack.visitor()
    head, _, token = link.partition("?t=")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for next_url in (f"{head}?t={flipped}", head, "/requests/1", "/"):
        page = visitor.get("/signin", params={"next": next_url})
        assert page.status_code == 200 and "Sign in to review" not in page.text and model not in page.text
    stack.clock.advance(days=15)
    page = visitor.get("/signin", params={"next": link})
    assert "Sign in to review" not in page.text and model not in page.text
