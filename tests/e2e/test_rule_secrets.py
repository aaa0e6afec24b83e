"""Secrets in rule targets reach the receiver and nobody else: every API answer, page, log line,
audit entry and stored display form holds them redacted."""

from __future__ import annotations

import base64
import json
import logging
import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select, update

from signoff.adapters.db.tables import DeliveryRow, RuleRow, UserRow
from signoff.adapters.passwords import hash_password
from tests.conftest import unique
from tests.e2e.conftest import Api, error_of
from tests.fixtures.servers import WebhookReceiver

V1 = "/api/v1"
HEADER_SECRET = "Bearer hdr-s3cret-7f1c0d"
API_KEY = "key-s3cret-2b9e41"
PASSWORD = "pw-s3cret-9a2b77"
TOKEN = "tok-s3cret-4d5e88"
SLACK_PATH = "T0AAA/B0BBB/slk-s3cret-0b6a99"
HMAC = "hmac-s3cret-123456"
ENV_KEY = "env-s3cret-5c3d10"
ENV_SLACK_PATH = "T0CCC/B0DDD/slkenv-s3cret-7e8f21"
PLANTED = (HEADER_SECRET.split()[1], API_KEY, PASSWORD, TOKEN, "slk-s3cret-0b6a99", HMAC, ENV_KEY,
           "slkenv-s3cret-7e8f21")


def targets(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    host = f"{receiver.host}:{receiver.port}"
    return [
        {"type": "webhook", "url": f"http://deploy:{PASSWORD}@{host}/basic?env=prod", "secret": HMAC,
         "headers": {"X-Api-Key": API_KEY, "X-Trace": "visible"}},
        {"type": "webhook", "url": f"http://{host}/query?token={TOKEN}&env=prod",
         "headers": {"Authorization": HEADER_SECRET}, "headers_env": {"X-Env-Key": "SIGNOFF_TEST_HOOK_KEY"}},
        {"type": "slack", "url": f"http://{host}/services/{SLACK_PATH}"},
        {"type": "slack", "url_env": "SIGNOFF_TEST_SLACK_URL"},
    ]


def assert_clean(text: str, where: str) -> None:
    leaked = [s for s in PLANTED if s in text]
    assert not leaked, f"{where} shows {leaked}"


def sign_in(api: Api, name: str, password: str) -> None:
    with api.ctx.engine.begin() as conn:
        conn.execute(update(UserRow).where(UserRow.name == name).values(password_hash=hash_password(password)))
    page = api.http.get("/signin", params={"next": "/rules"})
    csrf = unescape(re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    r = api.http.post("/signin", data={"name": name, "password": password, "csrf_token": csrf, "next": "/rules"},
                      follow_redirects=False)
    assert r.status_code == 303, r.text


class TestRuleSecrets:
    def test_planted_secrets_are_sent_and_shown_nowhere(self, api: Api, webhook_receiver: WebhookReceiver,
                                                        caplog: pytest.LogCaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
        caplog.set_level(logging.DEBUG)
        monkeypatch.setenv("SIGNOFF_TEST_HOOK_KEY", ENV_KEY)
        monkeypatch.setenv("SIGNOFF_TEST_SLACK_URL", f"{webhook_receiver.base_url}/services/{ENV_SLACK_PATH}")
        name = unique("hooks")
        admin = api.auth("olga", "admin")
        created = api.http.post(f"{V1}/rules", json={"name": name, "pattern": {"type": ["signoff.version.registered"]},
                                                     "targets": targets(webhook_receiver)}, headers=admin)
        assert created.status_code == 201, created.text
        shown = created.json()["targets"]
        assert shown[0]["url"] == f"http://deploy:***@{webhook_receiver.host}:{webhook_receiver.port}/basic?env=prod"
        assert shown[0]["headers"] == {"X-Api-Key": "***", "X-Trace": "***"} and shown[0]["secret"] == "***"
        assert shown[1]["url"].endswith("/query?token=***&env=prod")
        assert shown[1]["headers_env"] == {"X-Env-Key": "SIGNOFF_TEST_HOOK_KEY"}
        assert shown[2]["url"].endswith("/services/***")
        assert shown[3] == {"type": "slack", "url_env": "SIGNOFF_TEST_SLACK_URL", "timeout": 10.0}

        r = api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": "s3://b/m.pkl"},
                          headers=api.auth("dana"))
        assert r.status_code == 201, r.text
        got = {q.path.split("?")[0]: q for q in webhook_receiver.wait_for(4)}
        assert got["/basic"].headers["authorization"] == "Basic " + base64.b64encode(
            f"deploy:{PASSWORD}".encode()).decode()
        assert got["/basic"].headers["x-api-key"] == API_KEY and "signoff-signature" in got["/basic"].headers
        assert got["/query"].path == f"/query?token={TOKEN}&env=prod"
        assert got["/query"].headers["authorization"] == HEADER_SECRET
        assert got["/query"].headers["x-env-key"] == ENV_KEY
        assert f"/services/{SLACK_PATH}" in got and f"/services/{ENV_SLACK_PATH}" in got

        texts = {"create": created.text}
        eve = api.auth("eve", "resolve")
        texts["list"] = api.http.get(f"{V1}/rules", headers=eve).text
        texts["get"] = api.http.get(f"{V1}/rules/{name}", headers=eve).text
        deliveries = api.http.get(f"{V1}/deliveries", params={"rule": name}, headers=eve)
        texts["deliveries"] = deliveries.text
        assert len(deliveries.json()["items"]) == 4
        for d in deliveries.json()["items"]:
            texts[f"delivery {d['id']}"] = api.http.get(f"{V1}/deliveries/{d['id']}", headers=eve).text
        texts["audit"] = api.http.get(f"{V1}/audit", params={"limit": 500}, headers=admin).text
        assert f"rules/{name}" in texts["audit"]
        disabled = api.http.patch(f"{V1}/rules/{name}", json={"enabled": False}, headers=admin)
        texts["patch"] = disabled.text
        sign_in(api, "eve", "eve-pass-1")
        page = api.http.get("/rules")
        assert page.status_code == 200 and name in page.text
        texts["page"] = page.text
        texts["logs"] = "\n".join(r.getMessage() for r in caplog.records)
        with api.ctx.engine.connect() as conn:
            texts["stored rule"] = json.dumps(conn.execute(select(RuleRow.targets).where(RuleRow.name == name))
                                              .scalar_one())
            texts["stored deliveries"] = json.dumps(conn.execute(select(DeliveryRow.target).where(
                DeliveryRow.rule_name == name)).scalars().all())
        texts["deleted"] = api.http.delete(f"{V1}/rules/{name}", headers=admin).text
        texts["audit after delete"] = api.http.get(f"{V1}/audit", params={"limit": 500}, headers=admin).text
        for where, text in texts.items():
            assert_clean(text, where)

    def test_a_missing_header_variable_dead_letters_without_sending(self, api: Api,
                                                                   webhook_receiver: WebhookReceiver) -> None:
        hook = {"type": "webhook", "url": webhook_receiver.url, "headers_env": {"X-Key": "SIGNOFF_TEST_UNSET_VAR"}}
        name = unique("hook")
        r = api.http.post(f"{V1}/rules", json={"name": name, "pattern": {"type": ["signoff.version.registered"]},
                                               "targets": [hook]}, headers=api.auth("olga", "admin"))
        assert r.status_code == 201, r.text
        api.http.post(f"{V1}/models/{unique()}/versions", json={"artifact_uri": "s3://b/m.pkl"},
                      headers=api.auth("dana"))
        [dead] = api.http.get(f"{V1}/deliveries", params={"rule": name, "state": "dead"},
                              headers=api.auth("eve")).json()["items"]
        assert "SIGNOFF_TEST_UNSET_VAR" in dead["last_error"] and webhook_receiver.requests == []

    def test_a_header_given_twice_is_refused(self, api: Api) -> None:
        hook = {"type": "webhook", "url": "https://example.com/h", "headers": {"X-Key": "a"},
                "headers_env": {"x-key": "SOME_VAR"}}
        r = api.http.post(f"{V1}/rules", json={"name": unique("hook"), "pattern": {"type": ["x"]}, "targets": [hook]},
                          headers=api.auth("olga", "admin"))
        assert r.status_code in (400, 422) and "headers_env" in error_of(r)["message"]
