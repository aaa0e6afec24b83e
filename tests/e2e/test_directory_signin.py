"""Signing in through the API against a real slapd, and deciding with directory groups.

prod needs one approver from `ml-leads` and one from `risk-office` (tests/conftest.py). In the
directory, carol is in ml-leads only through ds-leads (nested) and bob is in risk-office.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff.adapters.identity import directory_for
from signoff.adapters.passwords import hash_password
from signoff.bootstrap import Context, bootstrap
from signoff.sdk._embedded import EmbeddedClient
from signoff.services import accounts
from signoff.services.ports import FixedClock
from tests.conftest import DIGEST, make_settings, unique
from tests.e2e.conftest import Api, error_of
from tests.fixtures.directory import DirectoryAdmin, frozen, ldap_config, stopped
from tests.fixtures.servers import SlapdServer

V1 = "/api/v1"


@pytest.fixture
def ldap_ctx(tmp_path: Path, slapd_server: SlapdServer, clock: FixedClock) -> Iterator[Context]:
    settings = make_settings(tmp_path, auth={"providers": ["ldap", "local"], "membership_ttl": "1s",
                                             "ldap": ldap_config(slapd_server)})
    ctx = bootstrap(settings, clock=clock)
    yield ctx
    directory_for(ctx).close()
    ctx.close()


@pytest.fixture
def api(ldap_ctx: Context) -> Iterator[Api]:
    harness = Api(ldap_ctx)
    yield harness
    harness.http.close()


@pytest.fixture
def admin(slapd_server: SlapdServer) -> Iterator[DirectoryAdmin]:
    a = DirectoryAdmin(slapd_server)
    yield a
    a.close()


def sign_in(api: Api, username: str, password: str) -> Any:
    return api.http.post(f"{V1}/sessions", json={"username": username, "password": password})


def bearer(response: Any) -> dict[str, str]:
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def prod_request(ctx: Context) -> tuple[str, int]:
    """A version approved in dev, test and uat by config users, with its prod request open."""
    model = unique("churn")
    with EmbeddedClient(actor="dana", context=ctx) as dana:
        dana.register(model, f"s3://b/{model}.pkl", digest=DIGEST, metrics={"accuracy": 0.95})
        for env, approver in (("dev", "rita"), ("test", "ron"), ("uat", "uma")):
            if env != "dev":
                dana.request_promotion(model, 1, env)
            with EmbeddedClient(actor=approver, context=ctx) as who:
                who.approve(model, 1, env)
        request = dana.request_promotion(model, 1, "prod")
    return model, int(request["id"])


def decide(api: Api, request_id: int, headers: dict[str, str], decision: str = "approve") -> Any:
    return api.http.post(f"{V1}/approval-requests/{request_id}/decisions",
                         json={"decision": decision, "comment": "reviewed"}, headers=headers)


class TestSigningInThroughTheApi:
    def test_a_directory_user_gets_a_token_and_their_mapped_groups(self, api: Api) -> None:
        r = sign_in(api, "carol", "carol-password")
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["user"], body["provider"], body["groups"]) == ("carol", "ldap", ["ml-leads"])
        assert body["token_type"] == "Bearer" and body["expires_at"]
        assert api.http.get(f"{V1}/models", headers=bearer(r)).status_code == 200

    def test_the_user_and_memberships_are_stored_with_their_source(self, api: Api, ldap_ctx: Context) -> None:
        bearer(sign_in(api, "bob", "bob-password"))
        (bob,) = [u for u in accounts.list_users(uow=ldap_ctx.uow()) if u["name"] == "bob"]
        assert (bob["source"], bob["groups"], bob["email"]) == ("ldap", ["risk-office"], "bob@example.com")

    def test_a_wrong_password_is_401_and_writes_only_its_audit_entry_and_event(self, api: Api) -> None:
        audit, events = api.counts()
        r = sign_in(api, "carol", "alice-password")
        assert r.status_code == 401 and error_of(r)["code"] == "unauthenticated"
        assert api.counts() == (audit + 1, events + 1)  # signoff.auth.signin_failed, nothing else

    def test_local_accounts_still_sign_in_after_the_directory(self, api: Api, ldap_ctx: Context) -> None:
        name = unique("local")
        accounts.add_user(uow=ldap_ctx.uow(), name=name, actor="test", groups=["ml-reviewers"],
                          password_hash=hash_password("local-pass"))
        r = sign_in(api, name, "local-pass")
        assert r.status_code == 201 and r.json()["provider"] == "local"

    def test_a_directory_account_cannot_take_over_a_local_user_of_the_same_name(
            self, api: Api, admin: DirectoryAdmin) -> None:
        admin.add_person("paula", "paula-ldap-password")  # paula is a config user in tests/conftest.py
        r = sign_in(api, "paula", "paula-ldap-password")
        assert r.status_code == 401
        assert "belongs to a config account" in error_of(r)["message"]

    def test_signing_out_revokes_the_token(self, api: Api) -> None:
        headers = bearer(sign_in(api, "alice", "alice-password"))
        assert api.http.delete(f"{V1}/sessions/current", headers=headers).status_code == 204
        assert api.http.get(f"{V1}/models", headers=headers).status_code == 401


class TestFilterInjectionThroughTheApi:
    @pytest.mark.parametrize("username", ["*", "*)(uid=*", "alice)(|(uid=*", "al*", "*)(|(objectClass=*)"])
    @pytest.mark.parametrize("password", ["alice-password", "*"])
    def test_filter_syntax_never_signs_anyone_in(self, api: Api, username: str, password: str) -> None:
        audit, events = api.counts()
        r = sign_in(api, username, password)
        assert r.status_code == 401 and error_of(r)["code"] == "unauthenticated"
        assert api.counts() == (audit + 1, events + 1)  # the failed sign-in's audit entry and event only

    def test_the_injection_named_account_can_not_become_a_signoff_user(self, api: Api) -> None:
        r = sign_in(api, "mallory*)(uid=*", "mallory-password")
        assert r.status_code == 401
        assert "cannot sign in" in error_of(r)["message"]


class TestDecidingWithDirectoryGroups:
    def test_a_nested_group_member_and_a_risk_officer_approve_prod(self, api: Api, ldap_ctx: Context) -> None:
        model, request_id = prod_request(ldap_ctx)
        r = decide(api, request_id, bearer(sign_in(api, "carol", "carol-password")))
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "open"  # each-group quorum: risk-office still missing
        r = decide(api, request_id, bearer(sign_in(api, "bob", "bob-password")))
        assert r.status_code == 201 and r.json()["state"] == "approved"
        live = api.http.get(f"{V1}/models/{model}/environments/prod", headers=api.auth("dana"))
        assert live.status_code == 200 and live.json()["version"] == 1

    def test_a_directory_user_in_no_approver_group_gets_403(self, api: Api, ldap_ctx: Context,
                                                           admin: DirectoryAdmin) -> None:
        uid = unique("dave")
        admin.add_person(uid)
        _, request_id = prod_request(ldap_ctx)
        headers = bearer(sign_in(api, uid, f"{uid}-password"))  # creates the user: signoff.user.created
        before = api.counts()
        r = decide(api, request_id, headers)
        assert r.status_code == 403 and error_of(r)["code"] == "forbidden"
        assert api.counts()[1] == before[1]  # no event

    def test_removal_from_the_directory_group_takes_the_right_to_decide_without_a_restart(
            self, api: Api, ldap_ctx: Context, admin: DirectoryAdmin, slapd_server: SlapdServer) -> None:
        uid = unique("erik")
        person = admin.add_person(uid)
        ds_leads = slapd_server.group_dn("ds-leads")
        admin.add_member(ds_leads, person)
        try:
            headers = bearer(sign_in(api, uid, f"{uid}-password"))
            assert api.http.get(f"{V1}/models", headers=headers).status_code == 200
        finally:
            admin.remove_member(ds_leads, person)
        _, request_id = prod_request(ldap_ctx)
        time.sleep(1.1)  # membership_ttl = 1s: the next decision asks the directory again
        r = decide(api, request_id, headers)
        assert r.status_code == 403, r.text
        groups = [u["groups"] for u in accounts.list_users(uow=ldap_ctx.uow()) if u["name"] == uid]
        assert groups == [[]]


class TestDirectoryDown:
    def test_a_stopped_directory_gives_503_on_sign_in_and_the_rest_keeps_working(
            self, api: Api, ldap_ctx: Context, slapd_server: SlapdServer) -> None:
        carol = bearer(sign_in(api, "carol", "carol-password"))
        _, request_id = prod_request(ldap_ctx)
        local = unique("local")
        accounts.add_user(uow=ldap_ctx.uow(), name=local, actor="test", groups=["risk-office"],
                          password_hash=hash_password("local-pass"))
        time.sleep(1.1)  # carol's membership check is stale now
        with stopped(slapd_server):
            r = sign_in(api, "alice", "alice-password")
            assert r.status_code == 503, r.text
            assert error_of(r)["code"] == "unavailable"
            assert "directory" in error_of(r)["message"]
            # Everything that does not need the directory still answers.
            assert api.http.get(f"{V1}/models", headers=carol).status_code == 200
            assert api.http.get(f"{V1}/approval-requests/{request_id}", headers=carol).status_code == 200
            assert api.http.get("/healthz").status_code == 200
            # Local accounts sign in; a local approver decides.
            r = sign_in(api, local, "local-pass")
            assert r.status_code == 201
            assert decide(api, request_id, bearer(r)).status_code == 201
            # A directory user's decision needs a membership check: it fails closed.
            r = decide(api, request_id, carol)
            assert r.status_code == 503 and error_of(r)["code"] == "unavailable"
        assert decide(api, request_id, carol).status_code == 201

    def test_a_directory_that_does_not_answer_gives_503_within_the_timeout(
            self, api: Api, slapd_server: SlapdServer) -> None:
        with frozen(slapd_server):
            started = time.monotonic()
            r = sign_in(api, "alice", "alice-password")
            elapsed = time.monotonic() - started
        assert r.status_code == 503 and error_of(r)["code"] == "unavailable"
        assert elapsed < 10  # connect_timeout = receive_timeout = 2s
        assert sign_in(api, "alice", "alice-password").status_code == 201
