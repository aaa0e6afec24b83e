"""Review-link tokens, Message-IDs and the small pure helpers of the review pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from signoff.adapters.links import DEFAULT_LIFETIME, ReviewLinks, link_expiry
from signoff.entrypoints.web.common import safe_next
from signoff.services.emails import message_id
from signoff.services.review import metric_rows

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LINKS = ReviewLinks("secret-one", "https://signoff.example.com/")


def token_of(url: str) -> str:
    return url.split("?t=", 1)[1]


class TestReviewLinks:
    def test_a_link_names_the_request_and_works_for_its_recipient_until_it_expires(self) -> None:
        url = LINKS.url(7, "Rita@Example.com", NOW + timedelta(days=1))
        assert url.startswith("https://signoff.example.com/review/7?t=")
        check = LINKS.check(token_of(url), request_id=7, now=NOW, email="rita@example.com")
        assert (check.status, check.request_id, check.recipient) == ("ok", 7, "rita@example.com")

    def test_a_link_for_someone_else_is_foreign(self) -> None:
        token = LINKS.token(7, "rita@example.com", NOW + timedelta(days=1))
        assert LINKS.check(token, request_id=7, now=NOW, email="ron@example.com").status == "foreign"
        assert LINKS.check(token, request_id=7, now=NOW).status == "ok"  # before sign-in: signature and expiry only

    def test_an_expired_link_is_expired_even_for_its_recipient(self) -> None:
        token = LINKS.token(7, "rita@example.com", NOW + timedelta(hours=1))
        check = LINKS.check(token, request_id=7, now=NOW + timedelta(hours=1), email="rita@example.com")
        assert check.status == "expired" and check.expires_at == NOW + timedelta(hours=1)

    def test_an_altered_token_another_requests_token_or_another_servers_token_is_tampered(self) -> None:
        token = LINKS.token(7, "rita@example.com", NOW + timedelta(days=1))
        flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
        other_server = ReviewLinks("secret-two", "https://x").token(7, "rita@example.com", NOW + timedelta(days=1))
        for bad, rid in ((flipped, 7), (token, 8), (other_server, 7), ("", 7), ("not.a.token", 7)):
            assert LINKS.check(bad, request_id=rid, now=NOW, email="rita@example.com").status == "tampered"

    def test_links_live_as_long_as_their_request_or_a_default(self) -> None:
        assert link_expiry(NOW + timedelta(days=3), NOW) == NOW + timedelta(days=3)
        assert link_expiry(None, NOW) == NOW + DEFAULT_LIFETIME


class TestMessageIds:
    def test_the_same_delivery_and_recipient_give_the_same_message_id(self) -> None:
        key = "event-1/default-email-approvers/0"
        first = message_id(key, "signoff <signoff@corp.example.com>", "rita@example.com")
        assert first == message_id(key, "signoff <signoff@corp.example.com>", "RITA@example.com")
        assert first.endswith("@corp.example.com>") and first.startswith("<")
        assert first != message_id(key, "signoff <signoff@corp.example.com>", "ron@example.com")
        assert first.split(".")[0] == message_id(key, "signoff@corp.example.com").split("@")[0]  # same key prefix


class TestHelpers:
    def test_only_same_site_paths_are_followed_after_sign_in(self) -> None:
        assert safe_next("/review/1?t=abc") == "/review/1?t=abc"
        for bad in ("//evil.example", "https://evil.example", "/\\evil.example", "", None, "evil"):
            assert safe_next(bad) == "/"

    def test_metric_rows_put_each_metric_beside_the_live_ones(self) -> None:
        rows = metric_rows({"accuracy": 0.93, "f1": 0.9}, {"accuracy": 0.95, "auc": 0.99})
        assert [(r["name"], r["candidate"], r["live"]) for r in rows] == [
            ("accuracy", 0.93, 0.95), ("auc", None, 0.99), ("f1", 0.9, None)]
        assert round(rows[0]["delta"], 6) == -0.02 and rows[1]["delta"] is None
