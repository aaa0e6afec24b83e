"""People over REST (admin scope) and on the admin page (CSRF, a confirmation step)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from signoff.bootstrap import Context
from signoff.entrypoints.api import create_app
from signoff.services import accounts
from tests.conftest import unique
from tests.e2e.conftest import Api, error_of
from tests.fixtures.web import PASSWORDS, Stack, stack  # noqa: F401

V1 = "/api/v1"


@pytest.fixture
def person(api: Api) -> str:
    name = unique("p")
    accounts.add_user(uow=api.ctx.uow(), name=name, actor="test", groups=["ml-reviewers"])
    return name


class TestPeopleOverRest:
    def test_disabling_refuses_the_users_token_at_once_here_and_soon_in_other_processes(
            self, api: Api, ctx: Context, person: str) -> None:
        ctx.settings.server.token_cache_seconds = 0.5
        other_process = TestClient(create_app(ctx))  # its own token cache, as another server process has
        headers = api.auth(person)
        assert api.http.get(f"{V1}/models", headers=headers).status_code == 200
        assert other_process.get(f"{V1}/models", headers=headers).status_code == 200

        r = api.http.post(f"{V1}/users/{person}/disable", json={"reason": "left"}, headers=api.auth("olga", "admin"))

        assert r.status_code == 200 and r.json()["state"] == "disabled", r.text
        assert api.http.get(f"{V1}/models", headers=headers).status_code == 401
        time.sleep(0.6)
        assert other_process.get(f"{V1}/models", headers=headers).status_code == 401
        other_process.close()

    def test_enable_groups_password_and_delete(self, api: Api, person: str) -> None:
        admin = api.auth("olga", "admin")
        assert api.http.post(f"{V1}/users/{person}/disable", headers=admin).status_code == 200
        assert api.http.post(f"{V1}/users/{person}/enable", headers=admin).json()["state"] == "active"
        r = api.http.put(f"{V1}/users/{person}/groups", json={"groups": ["ml-leads"]}, headers=admin)
        assert r.status_code == 200 and r.json()["groups"] == ["ml-leads"]
        r = api.http.put(f"{V1}/users/{person}/password", json={"password": "short"}, headers=admin)
        assert r.status_code == 422 and error_of(r)["code"] == "invalid_input"
        assert api.http.put(f"{V1}/users/{person}/password", json={"password": "long-enough-1"},
                            headers=admin).status_code == 200
        r = api.http.delete(f"{V1}/users/{person}", headers=admin)
        assert r.status_code == 200 and r.json()["state"] == "deleted"
        r = api.http.post(f"{V1}/users", json={"name": person}, headers=admin)
        assert r.status_code == 409 and error_of(r)["code"] == "already_exists"
        assert api.http.get(f"{V1}/users/{person}", headers=admin).json()["state"] == "deleted"

    def test_every_change_needs_the_admin_scope_and_refusals_write_nothing(self, api: Api, person: str) -> None:
        everyday = api.auth("olga")
        before = api.counts()
        for method, path, body in [("POST", f"/users/{person}/disable", {}), ("POST", f"/users/{person}/enable", None),
                                   ("DELETE", f"/users/{person}", None),
                                   ("PUT", f"/users/{person}/groups", {"groups": []}),
                                   ("PUT", f"/users/{person}/password", {"password": "long-enough-1"})]:
            r = api.http.request(method, V1 + path, json=body, headers=everyday)
            assert r.status_code == 403 and error_of(r)["code"] == "forbidden", (method, path)
        assert api.counts() == before

    def test_an_administrator_cannot_disable_themselves(self, api: Api) -> None:
        r = api.http.post(f"{V1}/users/olga/disable", headers=api.auth("olga", "admin"))
        assert r.status_code == 400 and "your own account" in error_of(r)["message"]


@pytest.fixture
def admin_visitor(stack: Stack) -> Iterator[object]:  # noqa: F811
    visitor = stack.visitor()
    visitor.sign_in("root")
    yield visitor


class TestTheAdminPage:
    def test_lists_people_for_administrators_only(self, stack: Stack, admin_visitor: object) -> None:  # noqa: F811
        page = admin_visitor.get("/admin/users")  # type: ignore[attr-defined]
        assert page.status_code == 200 and "rita" in page.text and ">People<" in page.text
        rita = stack.visitor()
        rita.sign_in("rita")
        assert rita.get("/admin/users").status_code == 403
        assert "/admin/users" not in rita.get("/queue").text

    def test_disabling_needs_csrf_and_the_confirmation_step_then_signs_them_out(
            self, stack: Stack, admin_visitor: object) -> None:  # noqa: F811
        rita = stack.visitor()
        rita.sign_in("rita")
        assert rita.get("/queue").status_code == 200
        http = admin_visitor.http  # type: ignore[attr-defined]

        confirm = admin_visitor.get("/admin/users/rita/disable")  # type: ignore[attr-defined]
        assert confirm.status_code == 200 and "every API token of theirs is revoked" in confirm.text
        csrf = admin_visitor.csrf(confirm.text, "/admin/users/rita/disable")  # type: ignore[attr-defined]
        before = stack.snapshot()
        assert http.post("/admin/users/rita/disable", data={"confirm": "yes"}).status_code == 403  # no CSRF
        assert http.post("/admin/users/rita/disable", data={"csrf_token": csrf}).status_code == 400  # no confirmation
        assert stack.snapshot() == before
        assert rita.get("/queue").status_code == 200

        r = http.post("/admin/users/rita/disable", data={"csrf_token": csrf, "confirm": "yes", "reason": "left"})
        assert r.status_code == 303 and r.headers["location"] == "/admin/users/rita?done=disable"
        assert "left" in admin_visitor.get("/admin/users/rita").text  # type: ignore[attr-defined]
        assert rita.get("/queue").status_code == 303  # signed out: to the sign-in page
        failed = rita.http.post("/signin", data={"name": "rita", "password": PASSWORDS["rita"],
                                                 "csrf_token": rita.csrf(rita.get("/signin").text, "/signin")})
        assert failed.status_code == 401

    def test_deleting_needs_the_name_typed(self, stack: Stack, admin_visitor: object) -> None:  # noqa: F811
        page = admin_visitor.get("/admin/users/ron/delete")  # type: ignore[attr-defined]
        csrf = admin_visitor.csrf(page.text, "/admin/users/ron/delete")  # type: ignore[attr-defined]
        http = admin_visitor.http  # type: ignore[attr-defined]
        assert http.post("/admin/users/ron/delete", data={"csrf_token": csrf, "confirm": "yes"}).status_code == 400
        r = http.post("/admin/users/ron/delete", data={"csrf_token": csrf, "confirm": "ron"})
        assert r.status_code == 303
        (ron,) = [u for u in accounts.list_users(uow=stack.ctx.uow()) if u["name"] == "ron"]
        assert ron["state"] == "deleted"

    def test_groups_and_a_new_password(self, stack: Stack, admin_visitor: object) -> None:  # noqa: F811
        r = admin_visitor.post_form("/admin/users/ron/groups", "/admin/users/ron/groups",  # type: ignore[attr-defined]
                                    confirm="yes", groups="ml-leads, risk-office")
        assert r.status_code == 303
        r = admin_visitor.post_form("/admin/users/ron/password", "/admin/users/ron/password",  # type: ignore[attr-defined]
                                    confirm="yes", password="brand-new-pass", password_again="other-pass")
        assert r.status_code == 400 and "differ" in r.text
        r = admin_visitor.post_form("/admin/users/ron/password", "/admin/users/ron/password",  # type: ignore[attr-defined]
                                    confirm="yes", password="brand-new-pass", password_again="brand-new-pass")
        assert r.status_code == 303
        ron = stack.visitor()
        ron.sign_in("ron", "brand-new-pass")
        assert "ml-leads" in ron.get("/queue").text
