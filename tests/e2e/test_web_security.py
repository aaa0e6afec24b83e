"""What the review pages refuse: bad links, forged forms, the wrong people, fixed sessions.

Real uvicorn on loopback, real cookies; the requests are made as a browser (or an attacker's
script) would make them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, unique
from tests.fixtures.web import PASSWORDS, Stack, Visitor, review_links


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def open_request(stack: Stack) -> str:
    """Register a version (request 1 opens in dev) and return rita's review link as a path."""
    EmbeddedClient(actor="dana", context=stack.ctx).register(unique(), "s3://b/m.pkl", digest=DIGEST, metrics={"accuracy": 0.95})
    stack.smtp.wait_for(2)
    return path_of(review_links(stack.mails_to("rita@example.com")[0])[0])


def signed_in(stack: Stack, user: str) -> Visitor:
    visitor = stack.visitor()
    visitor.sign_in(user)
    return visitor


class TestReviewLinks:
    def test_a_tampered_token_gets_a_clear_400_page(self, stack: Stack) -> None:
        link = open_request(stack)
        head, _, token = link.partition("?t=")
        flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        for bad in (f"{head}?t={flipped}", f"{head}?t=", f"{head}?t=garbage", head.replace("/1", "/2") + f"?t={token}"):
            response = signed_in(stack, "rita").get(bad)
            assert response.status_code == 400, bad
            assert "This review link is not valid" in response.text
        assert stack.visitor().get(f"{head}?t={flipped}").status_code == 400  # also before signing in

    def test_an_expired_token_gets_a_clear_410_page(self, stack: Stack) -> None:
        link = open_request(stack)
        rita = signed_in(stack, "rita")
        assert rita.get(link).status_code == 200
        stack.clock.advance(days=15)  # links live as long as their request, or 14 days when it never expires
        response = rita.get(link)
        assert response.status_code == 410, (response.status_code, response.headers, response.text[-1500:])
        assert "This review link has expired" in response.text

    def test_a_foreign_token_gets_a_clear_403_page(self, stack: Stack) -> None:
        link = open_request(stack)  # mailed to rita
        ron = signed_in(stack, "ron")  # an approver too, but the link is not his
        response = ron.get(link)
        assert response.status_code == 403
        assert "sent to someone else" in response.text and "rita@example.com" in response.text

    def test_the_review_page_requires_sign_in(self, stack: Stack) -> None:
        link = open_request(stack)
        for path in (link, "/requests/1", "/models", "/queue"):
            response = stack.visitor().get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/signin?next="), path

    def test_review_pages_do_not_leak_the_token_and_cannot_be_framed(self, stack: Stack) -> None:
        response = signed_in(stack, "rita").get(open_request(stack))
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"


class TestForms:
    def test_a_decision_without_the_csrf_token_is_refused(self, stack: Stack) -> None:
        open_request(stack)
        rita = signed_in(stack, "rita")
        before = stack.snapshot()
        response = rita.http.post("/requests/1/decision", data={"decision": "approve"})
        assert response.status_code == 403 and "CSRF" in response.text
        assert stack.snapshot() == before

    def test_a_decision_with_a_wrong_or_foreign_csrf_token_is_refused(self, stack: Stack) -> None:
        open_request(stack)
        rita, ron = signed_in(stack, "rita"), signed_in(stack, "ron")
        rons_token = ron.csrf(ron.get("/requests/1").text)
        before = stack.snapshot()
        for token in ("wrong", rons_token):
            response = rita.http.post("/requests/1/decision", data={"decision": "approve", "csrf_token": token})
            assert response.status_code == 403
        assert stack.snapshot() == before

    def test_a_cross_site_form_post_without_a_session_is_refused(self, stack: Stack) -> None:
        open_request(stack)
        response = stack.visitor().http.post("/requests/1/decision", data={"decision": "approve", "csrf_token": "x"})
        assert response.status_code == 303 and response.headers["location"].startswith("/signin")

    def test_the_sign_in_form_needs_its_csrf_token(self, stack: Stack) -> None:
        response = stack.visitor().http.post("/signin", data={"name": "rita", "password": PASSWORDS["rita"]})
        assert response.status_code == 403
        assert "signoff_session" not in response.cookies

    def test_a_rejection_needs_a_comment(self, stack: Stack) -> None:
        open_request(stack)
        rita = signed_in(stack, "rita")
        before = stack.snapshot()
        response = rita.decide(1, "reject", "   ")
        assert response.status_code == 400 and "a rejection needs a comment" in response.text
        assert stack.snapshot() == before


class TestWhoMayDecide:
    def test_a_non_approver_sees_the_page_read_only_with_the_reason(self, stack: Stack) -> None:
        open_request(stack)
        page = signed_in(stack, "eve").get("/requests/1")
        assert page.status_code == 200
        assert "Read-only." in page.text and "not a member of an approver group for dev" in page.text
        assert 'action="/requests/1/decision"' not in page.text

    def test_a_non_approver_post_is_refused_with_403(self, stack: Stack) -> None:
        open_request(stack)
        eve = signed_in(stack, "eve")
        before = stack.snapshot()
        token = eve.csrf(eve.get("/requests/1").text)  # her session's token: the page has no decision form
        for decision in ("approve", "reject"):
            response = eve.http.post("/requests/1/decision",
                                     data={"csrf_token": token, "decision": decision, "comment": "I think not"})
            assert response.status_code == 403 and "not a member of an approver group" in response.text
        assert stack.snapshot() == before

    def test_the_registrant_may_reject_but_not_approve_and_the_page_says_so(self, stack: Stack) -> None:
        open_request(stack)
        dana = signed_in(stack, "dana")
        page = dana.get("/requests/1")
        assert "You cannot approve" in page.text and "separation of duties" in page.text
        response = dana.http.post("/requests/1/decision", data={"csrf_token": dana.csrf(page.text), "decision": "approve"})
        assert response.status_code == 403 and "separation of duties" in response.text


class TestSessions:
    def test_the_session_id_changes_at_sign_in(self, stack: Stack) -> None:
        visitor = stack.visitor()
        visitor.sign_in("rita")
        first = visitor.session_cookie
        visitor.sign_in("rita")
        second = visitor.session_cookie
        assert first and second and first != second
        # The session the browser came with is gone: replaying it is signing out.
        replay = httpx.Client(base_url=stack.url, cookies={"signoff_session": first}, follow_redirects=False)
        assert replay.get("/queue").status_code == 303
        replay.close()

    def test_a_session_id_planted_before_sign_in_is_not_adopted(self, stack: Stack) -> None:
        victim = signed_in(stack, "ron")  # a valid cookie an attacker might have obtained earlier and plant
        planted = victim.session_cookie
        browser = stack.visitor()
        browser.http.cookies.set("signoff_session", planted or "", domain="127.0.0.1")
        browser.sign_in("rita")
        assert browser.session_cookie != planted
        assert victim.get("/queue").status_code == 303  # the planted session was ended, not reused

    def test_sign_out_ends_the_session_everywhere(self, stack: Stack) -> None:
        rita = signed_in(stack, "rita")
        cookie = rita.session_cookie
        assert rita.post_form("/queue", "/signout").status_code == 303
        stolen = httpx.Client(base_url=stack.url, cookies={"signoff_session": cookie or ""}, follow_redirects=False)
        assert stolen.get("/queue").status_code == 303
        stolen.close()

    def test_the_session_cookie_is_httponly_and_samesite_lax(self, stack: Stack) -> None:
        visitor = stack.visitor()
        response = visitor.sign_in("rita")
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "signoff_session" in v)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain-HTTP server

    def test_the_cookie_is_secure_when_the_server_is_public_over_https(self, stack: Stack) -> None:
        from fastapi.testclient import TestClient

        from signoff.entrypoints.api import create_app

        stack.ctx.settings.server.public_url = "https://signoff.example.com"
        with TestClient(create_app(stack.ctx), base_url="https://signoff.example.com") as client:
            page = client.get("/signin")
            csrf = Visitor.csrf(None, page.text)  # type: ignore[arg-type]
            response = client.post("/signin", data={"name": "rita", "password": PASSWORDS["rita"],
                                                    "csrf_token": csrf, "next": "/"}, follow_redirects=False)
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "signoff_session" in v)
        assert "Secure" in cookie and "HttpOnly" in cookie

    def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(self, stack: Stack) -> None:
        visitor = stack.visitor()
        page = visitor.get("/signin")
        for name, password in (("rita", "nope"), ("nobody", "nope")):
            response = visitor.http.post("/signin", data={"name": name, "password": password,
                                                          "csrf_token": visitor.csrf(page.text), "next": "/"})
            assert response.status_code == 401 and "unknown user or wrong password" in response.text
            assert "signoff_session" not in response.cookies

    def test_sign_in_never_redirects_off_site(self, stack: Stack) -> None:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            response = stack.visitor().sign_in("rita", next_url=target)
            assert response.headers["location"] == "/"


class TestTheApiAcceptsTheSessionCookie:
    def test_reads_work_and_writes_need_the_csrf_header(self, stack: Stack) -> None:
        open_request(stack)
        rita = signed_in(stack, "rita")
        assert rita.get("/api/v1/approval-requests/1").status_code == 200
        body = {"decision": "approve", "comment": "via the API"}
        refused = rita.http.post("/api/v1/approval-requests/1/decisions", json=body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        token = rita.csrf(rita.get("/requests/1").text)
        accepted = rita.http.post("/api/v1/approval-requests/1/decisions", json=body, headers={"X-CSRF-Token": token})
        assert accepted.status_code == 201 and accepted.json()["state"] == "approved"

    def test_a_signed_out_cookie_is_unauthenticated(self, stack: Stack) -> None:
        rita = signed_in(stack, "rita")
        cookie = rita.session_cookie
        rita.post_form("/queue", "/signout")
        stale = httpx.Client(base_url=stack.url, cookies={"signoff_session": cookie or ""})
        assert stale.get("/api/v1/models").status_code == 401
        stale.close()
