"""`/api/v1/rules`, `/api/v1/deliveries` and the event-bus figures on `/metrics`, through the app."""

from __future__ import annotations

from typing import Any

from tests.conftest import DIGEST, unique
from tests.e2e.conftest import Api, error_of
from tests.fixtures.servers import WebhookReceiver

V1 = "/api/v1"
PATTERN = {"type": ["signoff.version.registered"]}


def new_rule(api: Api, name: str, targets: list[dict[str, Any]], pattern: Any = None, user: str = "olga",
             scope: str = "admin") -> Any:
    return api.http.post(f"{V1}/rules", json={"name": name, "pattern": pattern or PATTERN, "targets": targets},
                         headers=api.auth(user, scope))


def register(api: Api) -> str:
    model = unique()
    r = api.http.post(f"{V1}/models/{model}/versions", json={"artifact_uri": "s3://b/m.pkl", "digest": DIGEST}, headers=api.auth("dana"))
    assert r.status_code == 201, r.text
    return model


class TestRulesApi:
    def test_the_default_rules_are_listed(self, api: Api) -> None:
        r = api.http.get(f"{V1}/rules", headers=api.auth("eve"))
        assert r.status_code == 200
        by_name = {rule["name"]: rule for rule in r.json()["items"]}
        assert by_name["default-request-approval"]["targets"] == [{"type": "request_approval"}]
        assert by_name["default-request-promotion"]["source"] == "default"

    def test_an_admin_adds_a_rule_and_its_secret_is_never_shown(self, api: Api) -> None:
        hook = {"type": "webhook", "url": "https://deploy.example.com/hook", "secret": "s3cret"}
        r = new_rule(api, "deploy", [hook])
        assert r.status_code == 201, r.text
        assert r.json()["targets"][0]["secret"] == "***" and r.json()["source"] == "api"
        shown = api.http.get(f"{V1}/rules/deploy", headers=api.auth("eve")).json()
        assert shown["targets"][0] == {"type": "webhook", "url": "https://deploy.example.com/hook",
                                       "secret": "***", "timeout": 10.0, "headers": {}, "headers_env": {},
                                       "format": "cloudevents"}
        assert new_rule(api, "deploy", [hook]).status_code == 409

    def test_only_admins_change_rules(self, api: Api) -> None:
        r = new_rule(api, "sneaky", [{"type": "request_approval"}], user="dana", scope="register")
        assert r.status_code == 403 and error_of(r)["code"] == "forbidden"
        r = api.http.patch(f"{V1}/rules/default-request-approval", json={"enabled": False},
                           headers=api.auth("dana", "register"))
        assert r.status_code == 403

    def test_an_invalid_pattern_is_refused_with_the_json_path(self, api: Api) -> None:
        r = new_rule(api, "bad", [{"type": "request_approval"}], pattern={"data": {"env": [{"wildcard": 7}]}})
        assert r.status_code == 400
        error = error_of(r)
        assert error["code"] == "invalid_pattern" and error["details"]["path"] == "$.data.env[0].wildcard"
        assert api.http.get(f"{V1}/rules/bad", headers=api.auth("eve")).status_code == 404

    def test_a_bad_target_is_a_422_naming_the_field(self, api: Api) -> None:
        r = new_rule(api, "bad", [{"type": "webhook", "url": "not a url"}])
        assert r.status_code == 422 and "url" in error_of(r)["message"]

    def test_a_python_target_outside_the_allow_list_is_refused(self, api: Api) -> None:
        admin = api.auth("olga", "admin")
        before = api.counts()
        r = api.http.post(f"{V1}/rules", json={"name": "shell", "pattern": PATTERN, "targets": [
            {"type": "python", "function": "os:system"}]}, headers=admin)
        assert r.status_code == 400 and error_of(r)["details"]["field"] == "targets[0].function"
        assert "[events] python_targets" in error_of(r)["message"]
        assert api.counts() == before
        assert api.http.get(f"{V1}/rules/shell", headers=admin).status_code == 404

    def test_disabling_and_deleting_a_rule(self, api: Api) -> None:
        r = api.http.patch(f"{V1}/rules/default-request-approval", json={"enabled": False}, headers=api.auth("olga", "admin"))
        assert r.status_code == 200 and r.json()["enabled"] is False
        model = register(api)
        opened = api.http.get(f"{V1}/approval-requests", params={"model": model}, headers=api.auth("eve"))
        assert opened.json()["items"] == []
        assert new_rule(api, "temp", [{"type": "request_approval"}]).status_code == 201
        assert api.http.delete(f"{V1}/rules/temp", headers=api.auth("olga", "admin")).status_code == 204
        assert api.http.get(f"{V1}/rules/temp", headers=api.auth("eve")).status_code == 404

    def test_a_pattern_is_tested_against_an_event(self, api: Api) -> None:
        event = {"type": "signoff.version.approved", "data": {"env": "prod", "accuracy": 0.93}}
        match = {"pattern": {"data": {"env": ["prod"], "accuracy": [{"numeric": [">=", 0.9]}]}}, "event": event}
        tester = api.auth("eve", "rules")
        r = api.http.post(f"{V1}/rules/test", json=match, headers=tester)
        assert (r.status_code, r.json()) == (200, {"match": True})
        miss = {"pattern": {"data": {"env": ["uat"]}}, "event": event}
        assert api.http.post(f"{V1}/rules/test", json=miss, headers=tester).json() == {"match": False}
        broken = {"pattern": {"data": {"env": "prod"}}, "event": event}
        r = api.http.post(f"{V1}/rules/test", json=broken, headers=tester)
        assert r.status_code == 400 and error_of(r)["details"]["path"] == "$.data.env"


class TestDeliveriesApi:
    def test_the_registration_rule_shows_up_as_a_succeeded_delivery_with_its_attempt(self, api: Api) -> None:
        register(api)
        r = api.http.get(f"{V1}/deliveries", params={"state": "succeeded"}, headers=api.auth("eve"))
        [delivery] = [d for d in r.json()["items"] if d["rule"] == "default-request-approval"]
        assert delivery["target_type"] == "request_approval" and delivery["attempts"] == 1
        detail = api.http.get(f"{V1}/deliveries/{delivery['id']}", headers=api.auth("eve")).json()
        assert [a["outcome"] for a in detail["attempt_log"]] == ["ok"]
        assert api.http.get(f"{V1}/deliveries/999999", headers=api.auth("eve")).status_code == 404

    def test_a_dead_letter_is_listed_and_replayed_by_an_admin(self, api: Api,
                                                              webhook_receiver: WebhookReceiver) -> None:
        webhook_receiver.respond_with([404])  # final: dead after one attempt
        assert new_rule(api, "hook", [{"type": "webhook", "url": webhook_receiver.url}]).status_code == 201
        register(api)
        [dead] = api.http.get(f"{V1}/deliveries", params={"state": "dead"}, headers=api.auth("eve")).json()["items"]
        assert (dead["rule"], dead["last_status_code"]) == ("hook", 404)
        assert api.http.post(f"{V1}/deliveries/{dead['id']}/replay",
                             headers=api.auth("dana", "register")).status_code == 403
        r = api.http.post(f"{V1}/deliveries/{dead['id']}/replay", headers=api.auth("olga", "admin"))
        assert r.status_code == 200, r.text
        assert (r.json()["state"], r.json()["replays"]) == ("succeeded", 1)
        assert [q.status for q in webhook_receiver.requests] == [404, 200]
        again = api.http.post(f"{V1}/deliveries/{dead['id']}/replay", headers=api.auth("olga", "admin"))
        assert again.status_code == 200

    def test_an_unknown_state_is_refused(self, api: Api) -> None:
        r = api.http.get(f"{V1}/deliveries", params={"state": "lost"}, headers=api.auth("eve"))
        assert r.status_code == 422

    def test_metrics_count_deliveries_and_attempts(self, api: Api) -> None:
        register(api)
        text = api.http.get("/metrics").text
        assert 'signoff_deliveries{state="succeeded",target_type="request_approval"} 1.0' in text
        assert 'signoff_delivery_attempts_total{outcome="ok"}' in text
        assert "signoff_events_oldest_undelivered_age_seconds 0.0" in text
