"""Finding things and operating signoff in the web UI: versions, my submissions, every request,
the audit browser, and the administrators' tokens, rules and deliveries pages.

Real uvicorn on loopback, read as a browser without JavaScript would, following the links and
posting the forms the pages themselves offer.
"""

from __future__ import annotations

import re
from html import unescape

import httpx
from sqlalchemy import func, select

from signoff.adapters.db.tables import AuditRow, DeliveryRow, TokenRow
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import rules
from tests.conftest import DIGEST, unique
from tests.e2e.test_web_browse import rel, walk
from tests.fixtures.servers import WebhookReceiver, free_port, webhook_receiver  # noqa: F401
from tests.fixtures.web import Stack, stack  # noqa: F401

VERSION_ROW = re.compile(r'<th scope="row"><a href="/models/([^"/]+)/versions/(\d+)">')
REQUEST_ROW = re.compile(r'<td><a href="/requests/(\d+)">#')
AUDIT_ROW = re.compile(r'<td class="num muted">#(\d+)</td>')


def register(stack: Stack, model: str, actor: str = "dana", accuracy: float = 0.95) -> int:
    version = EmbeddedClient(actor=actor, context=stack.ctx).register(
        model, f"s3://models/{model}.joblib", digest=DIGEST, metrics={"accuracy": accuracy},
        owner_group="data-science")
    return int(version.version)


def client(stack: Stack, user: str) -> EmbeddedClient:
    return EmbeddedClient(actor=user, context=stack.ctx)


def audit_count(stack: Stack, action: str) -> int:
    with stack.ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditRow).where(AuditRow.action == action)).scalar_one())


class TestVersionsAndMySubmissions:
    def test_my_submissions_lists_only_mine_with_where_each_stands(self, stack: Stack) -> None:  # noqa: F811
        mine, theirs = unique("churn"), unique("fraud")
        register(stack, mine)
        register(stack, mine)
        register(stack, theirs, actor="eve")
        client(stack, "rita").approve(mine, 1, "dev")
        dana = stack.visitor()
        dana.sign_in("dana")
        page = dana.get("/submissions").text
        assert VERSION_ROW.findall(page) == [(mine, "2"), (mine, "1")]
        assert "Showing 1–2 of 2 versions" in page
        v2, v1 = (row.split("</tr>")[0] for row in page.split(f">{mine} v")[1:])
        # v1: approved and live in dev, not requested further; v2 waits in dev with its review link
        assert v1.count("● live") == 1 and v1.count(">approved<") == 1 and v1.count(">not requested<") == 3
        assert v2.count("waiting for approval") == 1 and 'href="/requests/2">review #2</a>' in v2

    def test_versions_filter_by_state_in_an_environment_and_registrant(self, stack: Stack) -> None:  # noqa: F811
        model = unique("rank")
        for _ in range(3):
            register(stack, model)
        client(stack, "rita").approve(model, 2, "dev")
        client(stack, "rita").reject(model, 3, "dev", comment="worse")
        dana = stack.visitor()
        dana.sign_in("dana")
        assert VERSION_ROW.findall(dana.get(f"/versions?model={model}&env=dev&state=approved").text) == [(model, "2")]
        assert VERSION_ROW.findall(dana.get(f"/versions?model={model}&env=dev&state=rejected").text) == [(model, "3")]
        assert VERSION_ROW.findall(dana.get(f"/versions?model={model}&env=dev&state=live").text) == [(model, "2")]
        assert VERSION_ROW.findall(dana.get(f"/versions?model={model}&env=dev&state=waiting_for_approval").text) == [
            (model, "1")]
        # v3 was rejected in dev: test is "blocked", not "not requested"
        assert VERSION_ROW.findall(dana.get(f"/versions?model={model}&env=test&state=not_requested").text) == [
            (model, "2"), (model, "1")]
        assert VERSION_ROW.findall(dana.get(f"/versions?model={model}&env=test&state=blocked").text) == [(model, "3")]
        assert VERSION_ROW.findall(dana.get(f"/versions?model={model}&registrant=eve").text) == []

    def test_every_version_is_reachable_through_the_pages(self, stack: Stack) -> None:  # noqa: F811
        model = unique("paged")
        for _ in range(7):
            register(stack, model)
        dana = stack.visitor()
        dana.sign_in("dana")
        pages, counts = walk(dana, f"/versions?model={model}&size=3", "next", VERSION_ROW)
        assert [[n for _, n in p] for p in pages] == [["7", "6", "5"], ["4", "3", "2"], ["1"]]
        assert counts[-1] == "Showing 7–7 of 7 versions · page 3 of 3"

    def test_bad_filters_are_an_html_page_not_json(self, stack: Stack) -> None:  # noqa: F811
        dana = stack.visitor()
        dana.sign_in("dana")
        unknown = dana.get("/versions?env=moon&state=approved")
        assert unknown.status_code == 404 and "<html" in unknown.text
        state = dana.get("/versions?env=dev&state=sleeping")
        assert state.status_code == 400 and "unknown version state" in unescape(state.text)


class TestRequests:
    def test_waiting_for_me_mine_and_decided_ones_with_their_outcome(self, stack: Stack) -> None:  # noqa: F811
        model = unique("loans")
        register(stack, model)  # request 1: v1 dev
        register(stack, model, actor="eve")  # request 2: v2 dev
        client(stack, "rita").approve(model, 1, "dev", comment="fine")
        client(stack, "ron").reject(model, 2, "dev", comment="too slow")
        client(stack, "eve").request_promotion(model, 1, "test")  # request 3: v1 test, asked by eve
        rita, dana = stack.visitor(), stack.visitor()
        rita.sign_in("rita")
        dana.sign_in("dana")
        everything = rita.get(f"/requests?model={model}").text
        assert REQUEST_ROW.findall(everything) == ["3", "2", "1"]
        assert "✓ approved</span> rita" in everything and "✗ rejected</span> ron" in everything
        assert "too slow" in everything
        # rita approved #1 herself and #2 is decided: only #3 waits for her
        assert REQUEST_ROW.findall(rita.get(f"/requests?model={model}&show=waiting").text) == ["3"]
        uma = stack.visitor()
        uma.sign_in("uma")
        assert "Nothing is waiting for you" in uma.get(f"/requests?model={model}&show=waiting").text
        assert REQUEST_ROW.findall(dana.get(f"/requests?model={model}&show=mine").text) == ["3", "1"]
        assert REQUEST_ROW.findall(dana.get(f"/requests?model={model}&state=rejected").text) == ["2"]
        assert REQUEST_ROW.findall(dana.get(f"/requests?model={model}&env=test").text) == ["3"]

    def test_decided_in_a_date_range(self, stack: Stack) -> None:  # noqa: F811
        model = unique("dates")
        register(stack, model)
        register(stack, model)
        client(stack, "rita").approve(model, 1, "dev")  # 2026-11-25
        stack.clock.advance(days=5)
        client(stack, "rita").approve(model, 2, "dev")  # 2026-11-30
        dana = stack.visitor()
        dana.sign_in("dana")
        november = dana.get(f"/requests?model={model}&decided_from=2026-11-01&decided_to=2026-11-29").text
        assert REQUEST_ROW.findall(november) == ["1"]
        last_day = dana.get(f"/requests?model={model}&decided_from=2026-11-30&decided_to=2026-11-30").text
        assert REQUEST_ROW.findall(last_day) == ["2"]
        bad = dana.get("/requests?decided_from=yesterday")
        assert bad.status_code == 400 and "decided_from must be a date" in unescape(bad.text)
        backwards = dana.get("/requests?decided_from=2026-12-05&decided_to=2026-12-01")
        assert backwards.status_code == 400


class TestAuditBrowser:
    def test_filters_link_each_entry_to_its_subject_and_show_the_chain(self, stack: Stack) -> None:  # noqa: F811
        model = unique("audited")
        register(stack, model)
        client(stack, "rita").approve(model, 1, "dev")
        root = stack.visitor()
        root.sign_in("root")
        page = root.get(f"/audit?model={model}").text
        assert "not verified yet" in page
        with stack.ctx.engine.connect() as conn:
            entries = conn.execute(select(func.count()).select_from(AuditRow)).scalar_one()
        everything = root.get("/audit?size=10").text
        assert f"Showing 1–10 of {entries} entries" in everything and len(AUDIT_ROW.findall(everything)) == 10
        assert f'<a href="/models/{model}/versions/1">models/{model}/versions/1</a>' in page
        assert f'<a href="/models/{model}">models/{model}</a>' in page
        approvals = root.get(f"/audit?model={model}&actor=rita&action=version.approved").text
        assert len(AUDIT_ROW.findall(approvals)) == 1 and "Showing 1–1 of 1 entries" in approvals
        assert AUDIT_ROW.findall(root.get(f"/audit?model={model}&since=2026-11-26").text) == []
        assert len(AUDIT_ROW.findall(root.get(f"/audit?model={model}&since=2026-11-25&until=2026-11-25").text)) >= 3
        verified = root.post_form("/audit", "/audit/verify")
        assert verified.status_code == 303 and verified.headers["location"] == "/audit?verified=1"
        after = root.get("/audit?verified=1").text
        assert "chain intact" in after and "Verified just now" in after

    def test_only_administrators_verify_and_a_forged_post_is_refused(self, stack: Stack) -> None:  # noqa: F811
        dana = stack.visitor()
        dana.sign_in("dana")
        page = dana.get("/audit").text
        assert "/audit/verify" not in page
        refused = dana.http.post("/audit/verify", data={"csrf_token": dana.csrf(page)})
        assert refused.status_code == 403
        root = stack.visitor()
        root.sign_in("root")
        forged = root.http.post("/audit/verify", data={"csrf_token": "forged"})
        assert forged.status_code == 403 and "chain intact" not in root.get("/audit").text


class TestTokensPage:
    def test_created_token_is_shown_once_works_and_is_audited(self, stack: Stack) -> None:  # noqa: F811
        root = stack.visitor()
        root.sign_in("root")
        created = root.post_form("/admin/tokens", "/admin/tokens", owner="dana", name="ci pipeline",
                                 scopes="register", expires_days="30")
        assert created.status_code == 201, created.text
        token = re.search(r'class="token-value" type="text" readonly value="(so_[^"]+)"', created.text)
        assert token and "only time it is shown" in created.text
        listing = root.get("/admin/tokens").text
        assert token.group(1) not in listing and token.group(1)[:10] in listing and "ci pipeline" in listing
        me = httpx.get(f"{stack.url}/api/v1/models", headers={"Authorization": f"Bearer {token.group(1)}"})
        assert me.status_code == 200
        assert audit_count(stack, "token.created") == 1
        with stack.ctx.engine.connect() as conn:
            assert conn.execute(select(TokenRow.created_by)).scalar_one() == "root"

    def test_revoking_needs_the_confirmation_step(self, stack: Stack) -> None:  # noqa: F811
        root = stack.visitor()
        root.sign_in("root")
        root.post_form("/admin/tokens", "/admin/tokens", owner="dana", scopes="resolve")
        confirm = root.get("/admin/tokens/1/revoke")
        assert confirm.status_code == 200 and "Revoke token" in confirm.text
        unconfirmed = root.http.post("/admin/tokens/1/revoke", data={"csrf_token": root.csrf(confirm.text)})
        assert unconfirmed.status_code == 400 and audit_count(stack, "token.revoked") == 0
        done = root.post_form("/admin/tokens/1/revoke", "/admin/tokens/1/revoke", confirm="yes")
        assert done.status_code == 303 and done.headers["location"] == "/admin/tokens?revoked=1"
        assert "Token #1 is revoked" in root.get(done.headers["location"]).text
        assert audit_count(stack, "token.revoked") == 1

    def test_people_who_are_not_administrators_cannot_open_or_post(self, stack: Stack) -> None:  # noqa: F811
        dana = stack.visitor()
        dana.sign_in("dana")
        for path in ("/admin/tokens", "/admin/rules", "/admin/deliveries", "/admin/tokens/1/revoke"):
            assert dana.get(path).status_code == 403, path
        page = dana.get("/requests").text
        posted = dana.http.post("/admin/tokens", data={"csrf_token": dana.csrf(page), "owner": "dana",
                                                      "scopes": "admin"})
        assert posted.status_code == 403 and audit_count(stack, "token.created") == 0

    def test_bad_input_writes_nothing(self, stack: Stack) -> None:  # noqa: F811
        root = stack.visitor()
        root.sign_in("root")
        no_scope = root.post_form("/admin/tokens", "/admin/tokens", owner="dana")
        assert no_scope.status_code == 400 and "scopes must be" in unescape(no_scope.text)
        bad_days = root.post_form("/admin/tokens", "/admin/tokens", owner="dana", scopes="resolve", expires_days="-3")
        assert bad_days.status_code == 400
        no_csrf = root.http.post("/admin/tokens", data={"owner": "dana", "scopes": "resolve"})
        assert no_csrf.status_code == 403
        assert audit_count(stack, "token.created") == 0


class TestRulesAndDeliveriesPages:
    def add_rule(self, stack: Stack, name: str, port: int) -> None:
        rules.add_rule(uow=stack.ctx.uow(), actor="root", python_targets=(), spec={
            "name": name, "pattern": {"type": ["signoff.version.registered"]},
            "targets": [{"type": "webhook", "url": f"http://hook:s3cr3t-pass@127.0.0.1:{port}/h",
                         "secret": "whsec-very-secret", "headers": {"X-Api-Key": "key-123"}}]})

    def test_disable_and_enable_with_confirmation_secrets_redacted(self, stack: Stack) -> None:  # noqa: F811
        self.add_rule(stack, "deploy-hook", free_port())
        root = stack.visitor()
        root.sign_in("root")
        page = root.get("/admin/rules").text
        assert 'id="rule-deploy-hook"' in page
        for secret in ("s3cr3t-pass", "whsec-very-secret", "key-123"):
            assert secret not in page
        confirm = root.get("/admin/rules/deploy-hook/disable").text
        assert "no longer go to its targets" in confirm
        done = root.post_form("/admin/rules/deploy-hook/disable", "/admin/rules/deploy-hook/disable", confirm="yes")
        assert done.status_code == 303
        assert "The rule deploy-hook is now disabled" in root.get(done.headers["location"]).text
        assert rules.get_rule(uow=stack.ctx.uow(), name="deploy-hook")["enabled"] is False
        root.post_form("/admin/rules/deploy-hook/enable", "/admin/rules/deploy-hook/enable", confirm="yes")
        assert rules.get_rule(uow=stack.ctx.uow(), name="deploy-hook")["enabled"] is True
        assert audit_count(stack, "rule.changed") == 2

    def test_deliveries_filter_and_replay_says_what_happened(
        self, stack: Stack, webhook_receiver: WebhookReceiver,  # noqa: F811
    ) -> None:
        webhook_receiver.respond_with([404])  # final: dead after one attempt; the replay gets 200
        rules.add_rule(uow=stack.ctx.uow(), actor="root", python_targets=(), spec={
            "name": "dead-hook", "pattern": {"type": ["signoff.version.registered"]},
            "targets": [{"type": "webhook", "url": webhook_receiver.url, "secret": "whsec-very-secret"}]})
        register(stack, unique("hooked"))
        root = stack.visitor()
        root.sign_in("root")
        listing = root.get("/admin/deliveries?rule=dead-hook&state=dead").text
        [delivery_id] = re.findall(r'aria-label="Replay delivery (\d+)"', listing)
        assert "Showing 1–1 of 1 deliveries" in listing and "whsec-very-secret" not in listing
        assert "No delivery matches" in root.get("/admin/deliveries?rule=dead-hook&state=pending").text
        with stack.ctx.engine.connect() as conn:
            deliveries = conn.execute(select(func.count()).select_from(DeliveryRow)).scalar_one()
        assert deliveries > 1 and f"of {deliveries} deliveries" in root.get("/admin/deliveries").text
        others = root.get("/admin/deliveries?rule=default-request-approval").text
        assert f"Replay delivery {delivery_id}" not in others
        replayed = root.post_form("/admin/deliveries?rule=dead-hook", f"/admin/deliveries/{delivery_id}/replay")
        assert replayed.status_code == 303
        feedback = root.get(replayed.headers["location"]).text
        assert f"Delivery #{delivery_id} (dead-hook → webhook) is" in feedback and "(replay 1)" in feedback
        assert [r.status for r in webhook_receiver.requests] == [404, 200]
        assert audit_count(stack, "delivery.replayed") == 1
        # replaying a delivery that is pending is refused with a page that says why
        assert rel(feedback, "next") is None


class TestCountsStopAtTheCap:
    def test_past_ten_thousand_the_page_says_more_than_and_still_pages_on(self, stack: Stack) -> None:  # noqa: F811
        from datetime import UTC, datetime

        from sqlalchemy import insert

        from signoff.services.search import COUNT_TO

        # Plain rows straight into the table (no chain is verified here): many, fast.
        at = datetime(2026, 11, 1, tzinfo=UTC)
        rows = [{"at": at, "actor": "loader", "action": "bulk.loaded", "subject": f"bulk/{i}", "model": None,
                 "before": None, "after": None, "prev_hash": "0" * 64, "hash": f"{i:064d}"}
                for i in range(COUNT_TO + 60)]
        with stack.ctx.engine.begin() as conn:
            conn.execute(insert(AuditRow), rows)
        root = stack.visitor()
        root.sign_in("root")
        first = root.get("/audit?actor=loader").text
        assert "Showing 1–50 of more than 10,000 entries · page 1" in first
        assert rel(first, "next") == "/audit?actor=loader&page=2" and rel(first, "last") is None
        deep = root.get(f"/audit?actor=loader&page={COUNT_TO // 50 + 1}").text  # past the cap, still rows
        assert len(AUDIT_ROW.findall(deep)) == 50 and rel(deep, "next") is not None
        last = root.get(f"/audit?actor=loader&page={COUNT_TO // 50 + 2}").text
        assert len(AUDIT_ROW.findall(last)) == 10 and rel(last, "next") is None
        exact = root.get("/audit?actor=loader&since=2026-11-02").text
        assert "No entry matches" in exact
