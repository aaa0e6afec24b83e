"""The approver's path over real HTTP and real SMTP: email → link → sign-in → review → decision.

A uvicorn server on loopback serves the app; aiosmtpd on loopback receives the mail the event
bus sends. Nothing here calls a web route in-process.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

from signoff.sdk._embedded import EmbeddedClient
from signoff.services import deliveries, queries
from signoff.services.emails import message_id
from tests.conftest import DIGEST, unique
from tests.fixtures.web import Stack, all_links, build_stack, review_links

GOOD = {"accuracy": 0.95, "f1": 0.91}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


def as_(stack: Stack, user: str) -> EmbeddedClient:
    return EmbeddedClient(actor=user, context=stack.ctx)


def register(stack: Stack, model: str, metrics: dict[str, float] = GOOD, **kw: object) -> None:
    as_(stack, "dana").register(model, f"s3://models/{model}.pkl", digest=DIGEST, metrics=metrics, run_id="run-42",
                                code_commit="c0ffee1", dataset_hash="sha256:data", **kw)  # type: ignore[arg-type]


def live_in(stack: Stack, model: str, env: str, version: int) -> None:
    """Walk `version` up to `env` through the services (the set-up, not what is under test)."""
    dana = as_(stack, "dana")
    approvers = {"dev": ["rita"], "test": ["ron"], "uat": ["uma"], "prod": ["paula", "pete"]}
    for step in stack.ctx.workflow.order:
        request = dana.open_request(model, version, step) if step == "dev" else dana.request_promotion(model, version, step)
        for who in approvers[step]:
            as_(stack, who).decide(request.id, "approve", "ok")
        if step == env:
            return


class TestAnApproverFollowsTheEmailedLink:
    def test_the_approvers_get_an_email_the_registrant_does_not(self, stack: Stack) -> None:
        model = unique()
        register(stack, model)
        mails = stack.smtp.wait_for(2)
        assert sorted(a for m in mails for a in m.rcpt_tos) == ["rita@example.com", "ron@example.com"]
        assert stack.mails_to("dana@example.com") == []

    def test_the_email_is_multipart_with_the_evidence_and_a_personal_link(self, stack: Stack) -> None:
        model = unique()
        register(stack, model)
        stack.smtp.wait_for(2)
        mail = stack.mails_to("rita@example.com")[0]
        assert mail.get_content_type() == "multipart/alternative"
        assert {p.get_content_type() for p in mail.iter_parts()} == {"text/plain", "text/html"}
        assert mail["Subject"] == f"[signoff] approval needed for {model} v1 in dev"
        text = text_of(mail)
        for expected in (f"{model} v1", "dana registered version 1", "accuracy: 0.95", "f1: 0.91", "run-42",
                         "c0ffee1", "sha256:data", "ml-reviewers"):
            assert expected in text, expected
        assert html_of(mail).count("/review/") == 1
        links = review_links(mail)
        assert len(links) == 1 and links[0].startswith(stack.url + "/review/")
        assert review_links(stack.mails_to("ron@example.com")[0]) != links  # each link is for one person

    def test_the_message_id_derives_from_the_deliverys_idempotency_key(self, stack: Stack) -> None:
        register(stack, unique())
        stack.smtp.wait_for(2)
        mail = stack.mails_to("rita@example.com")[0]
        key = str(mail["Signoff-Idempotency-Key"]).strip()
        assert key and mail["Message-ID"] == message_id(key, "signoff <signoff@example.com>", "rita@example.com")

    def test_following_the_link_signing_in_and_approving_makes_the_version_live(self, stack: Stack) -> None:
        model = unique()
        register(stack, model)
        stack.smtp.wait_for(2)
        link = path_of(review_links(stack.mails_to("rita@example.com")[0])[0])
        rita = stack.visitor()

        first = rita.get(link)
        assert first.status_code == 303 and first.headers["location"].startswith("/signin?next=")
        signed_in = rita.sign_in("rita", next_url=parse_qs(urlsplit(first.headers["location"]).query)["next"][0])
        assert path_of(signed_in.headers["location"]) == link
        page = rita.get(link)
        assert page.status_code == 200
        assert f"{model}" in page.text and "Approve v1 for dev" in page.text and "accuracy" in page.text

        decided = rita.post_form(link, "/requests/1/decision", decision="approve", comment="looks right")
        assert decided.status_code == 303

        board = rita.get(f"/models/{model}")
        assert board.status_code == 200
        dev_cell = re.search(r'<td class="cell is-live">(.*?)</td>', board.text, re.DOTALL)
        assert dev_cell and "approved" in dev_cell.group(1) and "live" in dev_cell.group(1)
        param = queries.get_parameter(uow=stack.ctx.uow(), name=f"/signoff/models/{model}/dev")
        assert param["version"] == 1
        assert param["value"]["version"] == 1 and param["value"]["approved_by"] == ["rita"]

    def test_the_registrant_is_told_of_the_decision(self, stack: Stack) -> None:
        model = unique()
        register(stack, model)
        stack.smtp.wait_for(2)
        rita = stack.visitor()
        rita.sign_in("rita")
        assert rita.decide(1, "reject", "the f1 dropped on the holdout").status_code == 303
        stack.smtp.wait_for(3)
        notice = stack.mails_to("dana@example.com")[0]
        assert notice["Subject"] == f"[signoff] Rejected: {model} v1 in dev"
        assert "rita rejected version 1" in text_of(notice)
        assert "the f1 dropped on the holdout" in text_of(notice)


class TestPromotionEmails:
    def test_the_reported_metrics_stand_beside_the_live_versions(self, stack: Stack) -> None:
        model = unique()
        register(stack, model, metrics={"accuracy": 0.97, "f1": 0.95})
        live_in(stack, model, "test", 1)
        as_(stack, "dana").report_inference(model, 1, "test", metrics={"accuracy": 0.96, "f1": 0.94}, rows=100)
        register(stack, model, metrics={"accuracy": 0.99, "f1": 0.98})
        live_in(stack, model, "dev", 2)
        stack.smtp.clear()

        as_(stack, "dana").report_inference(model, 2, "dev", metrics={"accuracy": 0.93, "f1": 0.92}, rows=200)
        stack.smtp.wait_for(2)
        mail = stack.mails_to("rita@example.com")[0]
        assert mail["Subject"] == f"[signoff] promote {model} v2 to test? Approval needed"
        text = text_of(mail)
        assert "Reported metrics beside v1, live in test now" in text
        row = next(line for line in text.splitlines() if line.strip().startswith("accuracy"))
        assert row.split() == ["accuracy", "0.93", "0.96", "-0.03"]
        assert "v2 (reported)" in html_of(mail) and "v1 (live)" in html_of(mail)


class TestMailScannersChangeNothing:
    def test_fetching_every_link_in_every_email_changes_no_state(self, stack: Stack) -> None:
        model = unique()
        register(stack, model)
        live_in(stack, model, "dev", 1)  # a decision notice to dana
        register(stack, model)  # a second request with its own links
        as_(stack, "dana").report_inference(model, 1, "dev", metrics=GOOD, rows=10)  # a promotion request
        mails = stack.smtp.wait_for(5)
        links = {link for m in mails for link in all_links(m.message)}
        assert any("/review/" in link for link in links) and any("/models/" in link for link in links)
        before = stack.snapshot()

        scanners = [stack.visitor()]  # anonymous, like a mail gateway
        for user in ("rita", "ron", "dana", "eve"):  # recipients and a bystander, signed in
            signed = stack.visitor()
            signed.sign_in(user)
            scanners.append(signed)
        after_sign_in = stack.snapshot()
        for scanner in scanners:
            for link in sorted(links):
                assert link.startswith(stack.url), link
                for method in ("GET", "HEAD"):
                    response = scanner.http.request(method, path_of(link))
                    assert response.status_code < 500, (method, link, response.status_code)
                    if response.status_code in (301, 302, 303, 307, 308):
                        scanner.get(response.headers["location"])

        # Signing in writes an audit entry; following links writes nothing at all.
        assert stack.snapshot() == after_sign_in
        assert after_sign_in["requests"] == before["requests"] and after_sign_in["stages"] == before["stages"]


class TestRemindersAndExpiry:
    def test_an_overdue_request_is_reminded_then_expires_and_the_registrant_hears_of_it(
        self, tmp_path: object, smtp_server: object, clock: object,
    ) -> None:
        from signoff.services.sweeps import sweep_requests

        envs = {"order": ["dev", "prod"], "dev": {"approvers": ["ml-reviewers"], "remind_every": "1h",
                                                 "request_expiry": "3h"},
                "prod": {"approvers": ["ml-leads"]}}
        stack = build_stack(tmp_path, smtp_server, clock, environments=envs)  # type: ignore[arg-type]
        try:
            model = unique()
            register(stack, model)
            stack.smtp.wait_for(2)
            sweep = lambda: sweep_requests(uow=stack.ctx.uow(), workflow=stack.ctx.workflow)
            assert sweep() == {"expired": [], "reminded": []}

            stack.clock.advance(minutes=61)
            assert sweep() == {"expired": [], "reminded": [1]}
            assert sweep() == {"expired": [], "reminded": []}  # once per interval
            stack.smtp.wait_for(4)
            reminder = stack.mails_to("rita@example.com")[-1]
            assert reminder["Subject"] == f"[signoff] Reminder: approval needed for {model} v1 in dev"
            assert "has been open since" in text_of(reminder)
            old_link = path_of(review_links(reminder)[0])

            stack.clock.advance(hours=2)
            assert sweep() == {"expired": [1], "reminded": []}
            stack.smtp.wait_for(5)
            notice = stack.mails_to("dana@example.com")[-1]
            assert notice["Subject"] == f"[signoff] Request expired: {model} v1 in dev"
            assert "without reaching its quorum" in text_of(notice)
            assert as_(stack, "dana").request(1).state == "expired"
            gone = stack.visitor().get(old_link)
            assert gone.status_code == 410 and "expired" in gone.text
        finally:
            stack.close()
            stack.server.stop()
            stack.ctx.close()


    def test_a_reminder_skips_whoever_decided_already(self, tmp_path: object, smtp_server: object,
                                                      clock: object) -> None:
        from signoff.services.sweeps import sweep_requests

        envs = {"order": ["dev", "prod"], "dev": {"approvers": ["ml-reviewers"]},
                "prod": {"approvers": ["ml-leads", "risk-office"], "quorum": "each-group", "remind_every": "1h"}}
        stack = build_stack(tmp_path, smtp_server, clock, environments=envs)  # type: ignore[arg-type]
        try:
            model = unique()
            register(stack, model)
            as_(stack, "rita").approve(model, 1, "dev")
            prod = as_(stack, "dana").request_promotion(model, 1, "prod")
            as_(stack, "paula").decide(prod.id, "approve", "fine by ML")
            stack.smtp.clear()
            stack.clock.advance(minutes=61)
            assert sweep_requests(uow=stack.ctx.uow(), workflow=stack.ctx.workflow)["reminded"] == [prod.id]
            mails = stack.smtp.wait_for(2)
            assert sorted(a for m in mails for a in m.rcpt_tos) == ["olga@example.com", "pete@example.com"]
            text = text_of(mails[0].message)
            assert "REMINDER: promotion to prod" in text and "one approval from each of risk-office" in text
        finally:
            stack.close()
            stack.server.stop()
            stack.ctx.close()


class TestRedelivery:
    def test_a_replayed_delivery_sends_mail_with_the_same_message_id(self, stack: Stack) -> None:
        register(stack, unique())
        stack.smtp.wait_for(2)
        first = stack.mails_to("rita@example.com")[0]
        delivery = next(d for d in deliveries.list_deliveries(uow=stack.ctx.uow(), state="succeeded")
                        if d["rule"] == "default-email-approvers")
        deliveries.replay_delivery(uow=stack.ctx.uow(), delivery_id=delivery["id"], actor="root")
        stack.ctx.inline_dispatcher().drain()
        stack.smtp.wait_for(4)
        again = stack.mails_to("rita@example.com")[1]
        assert again["Message-ID"] == first["Message-ID"]


class TestAddressesNamedByARule:
    def test_a_rule_can_mail_any_event_to_an_address_with_the_same_templates(self, stack: Stack) -> None:
        from signoff.services import rules

        rules.add_rule(uow=stack.ctx.uow(), actor="root", python_targets=(), spec={
            "name": "tell-ops", "pattern": {"type": ["signoff.version.approved"]},
            "targets": [{"type": "email", "to": ["ops@example.com", "group:ml-leads"]}]})
        model = unique()
        register(stack, model)
        live_in(stack, model, "dev", 1)
        stack.smtp.wait_for(4)
        mail = next(m.message for m in stack.smtp.messages if "ops@example.com" in m.rcpt_tos)
        assert sorted(a for m in stack.smtp.messages if "ops@example.com" in m.rcpt_tos for a in m.rcpt_tos) == \
            ["olga@example.com", "ops@example.com", "paula@example.com"]
        assert mail["Subject"] == f"[signoff] {model} v1 is live in dev"
        assert {p.get_content_type() for p in mail.iter_parts()} == {"text/plain", "text/html"}
        assert f"{stack.url}/models/{model}/versions/1" in text_of(mail)
        assert "a rule (tell-ops)" in html_of(mail)


class TestTheQueue:
    def test_waiting_for_me_lists_what_i_may_decide_until_i_have(self, stack: Stack) -> None:
        model = unique()
        register(stack, model)
        rita, eve = stack.visitor(), stack.visitor()
        rita.sign_in("rita")
        eve.sign_in("eve")
        assert f"{model} v1 → dev" in rita.get("/queue").text
        assert f"{model} v1" not in eve.get("/queue").text
        rita.decide(1, "approve")
        assert f"{model} v1" not in rita.get("/queue").text

    def test_the_mailbox_exists_only_in_demo_mode(self, stack: Stack) -> None:
        assert stack.visitor().get("/mailbox").status_code == 404
