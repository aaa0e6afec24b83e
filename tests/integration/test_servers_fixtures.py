"""The loopback server fixtures work: each test talks to a real server with a plain client."""

from __future__ import annotations

import http.client
import json
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from tests.fixtures.servers import (
    Certificate,
    PostgresServer,
    SlapdServer,
    SmtpServer,
    WebhookReceiver,
    unavailable,
)


def _mail(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "signoff@example.com", to, "Approval requested"
    msg.set_content("Please review churn v3.")
    return msg


class TestUnavailable:
    def test_skips_without_ci(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match="no slapd"):
            unavailable("no slapd")

    def test_fails_with_ci_true(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="no slapd"):
            unavailable("no slapd")


class TestSmtpServer:
    def test_captures_a_mail_sent_with_smtplib(self, smtp_server: SmtpServer) -> None:
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as client:
            client.send_message(_mail("alice@example.com"))

        [mail] = smtp_server.wait_for(1)
        assert mail.mail_from == "signoff@example.com"
        assert mail.rcpt_tos == ["alice@example.com"]
        assert mail.message["Subject"] == "Approval requested"
        assert mail.message.get_content().strip() == "Please review churn v3."
        assert not mail.tls
        smtp_server.clear()
        assert smtp_server.messages == []

    def test_wait_for_fails_when_nothing_arrives(self, smtp_server: SmtpServer) -> None:
        with pytest.raises(AssertionError, match="expected 1 mails"):
            smtp_server.wait_for(1, timeout=0.1)

    def test_tls_server_accepts_mail_only_after_starttls(
        self, smtp_server_tls: SmtpServer, tls_certificate: Certificate
    ) -> None:
        with smtplib.SMTP(smtp_server_tls.host, smtp_server_tls.port, timeout=10) as client:
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.send_message(_mail("bob@example.com"))
        with smtplib.SMTP(smtp_server_tls.host, smtp_server_tls.port, timeout=10) as client:
            client.starttls(context=tls_certificate.client_context())
            client.send_message(_mail("bob@example.com"))

        [mail] = smtp_server_tls.wait_for(1)
        assert mail.tls and mail.rcpt_tos == ["bob@example.com"]

    def test_factory_server_requires_auth(
        self, smtp_server_factory: Callable[..., SmtpServer], tls_certificate: Certificate
    ) -> None:
        server = smtp_server_factory(certificate=tls_certificate, auth=("mailer", "s3cret"))
        with smtplib.SMTP(server.host, server.port, timeout=10) as client:
            client.starttls(context=tls_certificate.client_context())
            client.login("mailer", "s3cret")
            client.send_message(_mail("carol@example.com"))

        [mail] = server.wait_for(1)
        assert mail.auth_login == "mailer"
        server.stop()


class TestWebhookReceiver:
    def test_replays_scripted_statuses_over_one_keep_alive_connection(
        self, webhook_receiver: WebhookReceiver
    ) -> None:
        webhook_receiver.respond_with([500, 500, 500], then=200)
        conn = http.client.HTTPConnection("127.0.0.1", webhook_receiver.port, timeout=10)
        try:
            statuses = []
            for attempt in range(5):
                body = json.dumps({"attempt": attempt}).encode()
                conn.request("POST", "/hook", body=body, headers={
                    "Content-Type": "application/json", "X-Signoff-Signature": "sha256=abc"})
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            conn.close()

        assert statuses == [500, 500, 500, 200, 200]
        requests = webhook_receiver.wait_for(5)
        assert [r.json()["attempt"] for r in requests] == [0, 1, 2, 3, 4]
        assert requests[0].method == "POST" and requests[0].path == "/hook"
        assert requests[0].headers["x-signoff-signature"] == "sha256=abc"
        assert requests[0].headers["X-Signoff-Signature"] == "sha256=abc"
        assert [r.status for r in requests] == statuses

    def test_reads_a_chunked_body(self, webhook_receiver: WebhookReceiver) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", webhook_receiver.port, timeout=10)
        try:
            conn.request("POST", "/chunked", body=iter([b"hello ", b"world"]),
                         encode_chunked=True)
            assert conn.getresponse().status == 200
        finally:
            conn.close()
        [request] = webhook_receiver.wait_for(1)
        assert request.body == b"hello world"

    def test_stop_refuses_connections_and_start_resumes_on_the_same_port(
        self, webhook_receiver: WebhookReceiver
    ) -> None:
        def post() -> int:
            req = urllib.request.Request(webhook_receiver.url, data=b"{}", method="POST")
            with urllib.request.urlopen(req, timeout=5) as response:
                return int(response.status)

        assert post() == 200
        webhook_receiver.stop()
        with pytest.raises(urllib.error.URLError):
            post()
        webhook_receiver.start()
        assert post() == 200
        assert len(webhook_receiver.wait_for(2)) == 2


class TestPostgresServer:
    def test_runs_select_1(self, postgres_server: PostgresServer) -> None:
        import psycopg

        assert postgres_server.url.startswith("postgresql+psycopg://")
        with psycopg.connect(postgres_server.dsn) as conn:
            assert conn.execute("select 1").fetchone() == (1,)

    def test_postgres_database_is_fresh_and_separate(self, postgres_database: str) -> None:
        import psycopg

        dsn = postgres_database.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            row = conn.execute("select current_database()").fetchone()
            assert row is not None and row[0].startswith("test_")
            tables = conn.execute(
                "select count(*) from information_schema.tables where table_schema = 'public'"
            ).fetchone()
            assert tables == (0,)


class TestSlapdServer:
    def test_alice_binds_and_finds_carol_through_the_nested_group(
        self, slapd_server: SlapdServer
    ) -> None:
        import ldap3

        alice = slapd_server.users["alice"]
        conn = ldap3.Connection(ldap3.Server(slapd_server.url), alice.dn, alice.password,
                                auto_bind=True)
        try:
            conn.search(slapd_server.group_dn("ml-leads"), "(objectClass=groupOfNames)",
                        search_scope=ldap3.BASE, attributes=["member"])
            members = set(conn.entries[0].member.values)
            assert alice.dn in members and slapd_server.group_dn("ds-leads") in members
            conn.search(slapd_server.group_dn("ds-leads"), "(objectClass=groupOfNames)",
                        search_scope=ldap3.BASE, attributes=["member"])
            assert conn.entries[0].member.values == [slapd_server.users["carol"].dn]
            if slapd_server.memberof:
                conn.search(slapd_server.users["carol"].dn, "(objectClass=*)",
                            search_scope=ldap3.BASE, attributes=["memberOf"])
                assert conn.entries[0].memberOf.values == [slapd_server.group_dn("ds-leads")]
        finally:
            conn.unbind()

    def test_wrong_password_is_refused(self, slapd_server: SlapdServer) -> None:
        import ldap3

        conn = ldap3.Connection(ldap3.Server(slapd_server.url),
                                slapd_server.users["bob"].dn, "wrong")
        try:
            assert not conn.bind()
            assert conn.result["description"] == "invalidCredentials"
        finally:
            conn.unbind()

    def test_injection_uid_matches_only_itself_when_escaped(
        self, slapd_server: SlapdServer
    ) -> None:
        import ldap3
        from ldap3.utils.conv import escape_filter_chars

        mallory = slapd_server.users["mallory*)(uid=*"]
        conn = ldap3.Connection(ldap3.Server(slapd_server.url), slapd_server.admin_dn,
                                slapd_server.admin_password, auto_bind=True)
        try:
            conn.search(slapd_server.people_dn, f"(uid={escape_filter_chars(mallory.uid)})",
                        attributes=["uid"])
            assert [e.entry_dn for e in conn.entries] == [mallory.dn]
        finally:
            conn.unbind()

    def test_stop_and_start_simulate_an_outage(self, slapd_server: SlapdServer) -> None:
        import ldap3

        carol = slapd_server.users["carol"]
        slapd_server.stop()
        try:
            conn = ldap3.Connection(ldap3.Server(slapd_server.url, connect_timeout=2),
                                    carol.dn, carol.password)
            with pytest.raises(ldap3.core.exceptions.LDAPSocketOpenError):
                conn.bind()
            conn.socket.close()  # ldap3 2.9 leaks the socket of a refused connect
        finally:
            slapd_server.start()
        conn = ldap3.Connection(ldap3.Server(slapd_server.url), carol.dn, carol.password)
        try:
            assert conn.bind()
        finally:
            conn.unbind()
