"""The integrity rules at every door: REST status codes and bodies, the review page, the emails."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from signoff.sdk._embedded import EmbeddedClient
from signoff.services.ports import FixedClock
from tests.conftest import ENVIRONMENTS, artifact_file, unique
from tests.e2e.conftest import Api, error_of
from tests.fixtures.servers import SmtpServer
from tests.fixtures.web import Stack, build_stack

V1 = "/api/v1"


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def approved_twice_in_dev(api: Api) -> str:
    name = unique()
    dana, rita = api.client("dana"), api.client("rita")
    for n in (1, 2):
        dana.register(name, artifact_file(api.ctx.settings.resolved_artifact_root(), f"{name}-{n}.pkl"),
                      metrics={"accuracy": 0.9 + n / 100})
        rita.approve(name, n, "dev")
    return name


class TestRest:
    def test_a_report_from_a_version_that_is_not_live_is_409_naming_the_live_one(self, api: Api) -> None:
        name, headers = approved_twice_in_dev(api), api.auth("dana")
        before = api.counts()
        r = api.http.post(f"{V1}/models/{name}/versions/1/inference-reports",
                          json={"env": "dev", "metrics": {"accuracy": 0.99}, "rows": 5}, headers=headers)
        assert r.status_code == 409, r.text
        error = error_of(r)
        assert error["code"] == "invalid_transition" and error["details"]["live_version"] == 2
        assert "version 2 is live" in error["message"]
        assert api.counts() == before

    def test_a_registration_of_a_missing_path_is_422_naming_it(self, api: Api) -> None:
        headers = api.auth("dana")
        before = api.counts()
        missing = str(Path(api.ctx.settings.resolved_artifact_root()) / "no-such-model.pkl")
        for body in ({"artifact_uri": missing}, {"artifact_uri": f"file://{missing}"}):
            r = api.http.post(f"{V1}/models/{unique()}/versions", json=body, headers=headers)
            assert r.status_code == 422, r.text
            error = error_of(r)
            assert error["code"] == "invalid_artifact" and error["details"]["path"] == body["artifact_uri"]
            assert "no-such-model.pkl" in error["message"]
        r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": "s3://b/m", "digest": "md5:1"},
                          headers=headers)
        assert r.status_code == 422 and "digest" in error_of(r)["message"]
        assert api.counts() == before

    def test_a_readable_path_registered_over_http_gets_its_digest(self, api: Api) -> None:
        path = artifact_file(api.ctx.settings.resolved_artifact_root(), "served.pkl")
        r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": path}, headers=api.auth("dana"))
        assert r.status_code == 201 and r.json()["digest"].startswith("sha256:")

    def test_over_http_the_servers_disk_outside_the_artifact_root_is_not_read(self, api: Api, tmp_path: Path) -> None:
        outside = artifact_file(tmp_path, "elsewhere.pkl")
        for uri in ("/", outside, f"file://{outside}"):
            r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": uri}, headers=api.auth("dana"))
            assert r.status_code == 422 and "not under the artifact root" in error_of(r)["message"]

    def test_revoke_cascades_unless_only_env_and_the_request_carries_its_evidence(self, api: Api) -> None:
        name = approved_twice_in_dev(api)
        req = api.client("eve").requests(model=name, env="dev")[-1]
        assert req["evidence_source"] == {"source": "training"} and req["auto_approve_blocked"] is None
        assert req["decisions"][0]["evidence"]["live"]["version"] == 1
        r = api.http.post(f"{V1}/models/{name}/versions/2/environments/dev/revocations",
                          json={"reason": "bad batch", "only_env": True}, headers=api.auth("rita"))
        assert r.status_code == 201, r.text
        assert [e["env"] for e in r.json()["environments"]] == ["dev"] and r.json()["live_version"] == 1
        version = api.http.get(f"{V1}/models/{name}/versions/2", headers=api.auth("eve")).json()
        assert version["stages"]["dev"] == "Revoked" and version["board"]["dev"] == "revoked"
        assert version["board"]["test"] == "blocked"

    def test_rollback_to_changed_bytes_is_409_artifact_mismatch(self, api: Api) -> None:
        name = approved_twice_in_dev(api)
        uri = api.client("eve").version(name, 1)["artifact_uri"]
        Path(uri.removeprefix("file://")).write_bytes(b"swapped")
        r = api.http.post(f"{V1}/models/{name}/environments/dev/rollbacks", json={}, headers=api.auth("rita"))
        assert r.status_code == 409 and error_of(r)["code"] == "artifact_mismatch"
        assert api.client("eve").resolve(name, "dev")["version"] == 2


def stack_with(tmp_path: Path, smtp: SmtpServer, clock: FixedClock, **env_changes: dict[str, object]) -> Stack:
    envs = {**ENVIRONMENTS, **{env: {**ENVIRONMENTS[env], **keys} for env, keys in env_changes.items()}}  # type: ignore[dict-item]
    return build_stack(tmp_path, smtp, clock, environments=envs)


class TestPagesAndMails:
    def test_a_decided_page_and_its_mail_show_the_frozen_comparison_with_its_source(
        self, stack: Stack,
    ) -> None:
        name = unique()
        dana, rita = EmbeddedClient(actor="dana", context=stack.ctx), EmbeddedClient(actor="rita", context=stack.ctx)
        home = stack.ctx.settings.home
        dana.register(name, artifact_file(home, "v1.pkl"), metrics={"accuracy": 0.90})
        rita.approve(name, 1, "dev")
        dana.register(name, artifact_file(home, "v2.pkl"), metrics={"accuracy": 0.93})
        request = rita.approve(name, 2, "dev", "better")
        visitor = stack.visitor()
        visitor.sign_in("rita")
        page = plain(visitor.get(f"/requests/{request['id']}").text)
        assert "Frozen with the decision" in page and "training metrics (as registered)" in page
        assert "v1 (live in dev)" in page and "Nothing is live in dev" not in page
        stack.smtp.wait_for(1)
        [decided] = [m for m in stack.mails_to("dana@example.com") if "Approved:" in m["Subject"] and "v2" in m["Subject"]]
        text = text_of(decided)
        assert "What rita was shown when deciding" in text and "live v1: 0.9" in text
        assert "Metrics shown: training metrics (as registered)" in text

    def test_no_digest_is_said_in_plain_words_on_the_page_and_in_the_mail(self, stack: Stack) -> None:
        name = unique()
        EmbeddedClient(actor="dana", context=stack.ctx).register(name, "s3://b/unreadable.pkl")
        stack.smtp.wait_for(1)
        [mail] = [m for m in stack.mails_to("rita@example.com") if name in m["Subject"]]
        assert "No artifact digest" in text_of(mail) and "cannot be approved in dev" in text_of(mail)
        assert "No artifact digest" in plain(html_of(mail))
        visitor = stack.visitor()
        visitor.sign_in("rita")
        [request] = EmbeddedClient(actor="eve", context=stack.ctx).requests(model=name)
        page = plain(visitor.get(f"/requests/{request['id']}").text)
        assert "No artifact digest." in page and "It cannot be approved in dev (require_digest)" in page
        assert "You cannot approve" in page


def test_a_stopped_auto_approval_is_explained_in_the_mail_and_on_the_page(
    tmp_path: Path, smtp_server: SmtpServer, clock: FixedClock,
) -> None:
    stack = stack_with(tmp_path, smtp_server, clock, dev={"auto_approve": True, "freeze": ["Wed 00:00-Thu 00:00 UTC"]})
    try:
        name = unique()
        EmbeddedClient(actor="dana", context=stack.ctx).register(name, artifact_file(tmp_path, "m.pkl"))
        stack.smtp.wait_for(1)
        [mail] = [m for m in stack.mails_to("rita@example.com") if name in m["Subject"]]
        assert "Automatic approval stopped" in text_of(mail) and "(freeze)" in text_of(mail)
        visitor = stack.visitor()
        visitor.sign_in("rita")
        [request] = EmbeddedClient(actor="eve", context=stack.ctx).requests(model=name)
        page = plain(visitor.get(f"/requests/{request['id']}").text)
        assert "Automatic approval stopped (freeze)" in page
    finally:
        stack.close()
        stack.server.stop()
        stack.ctx.close()


def test_the_board_page_and_the_cli_words_match(stack: Stack) -> None:
    name = unique()
    dana, rita = EmbeddedClient(actor="dana", context=stack.ctx), EmbeddedClient(actor="rita", context=stack.ctx)
    dana.register(name, "s3://b/m.pkl", digest="sha256:" + "1" * 64)
    rita.reject(name, 1, "dev", "no")
    dana.register(name, "s3://b/m2.pkl", digest="sha256:" + "2" * 64)
    visitor = stack.visitor()
    visitor.sign_in("rita")
    board = plain(visitor.get(f"/models/{name}").text)
    assert "blocked by an earlier rejection" in board and "waiting for approval" in board
    assert "not requested" in board and "Pending" not in board
    from rich.console import Console

    from signoff.entrypoints.cli.registry_cmds import board_table

    console = Console(width=200, record=True)
    console.print(board_table(name, EmbeddedClient(actor="eve", context=stack.ctx).status(name)))
    cli = console.export_text()
    assert "blocked by an earlier rejection" in cli and "waiting for approval" in cli and "not requested" in cli
