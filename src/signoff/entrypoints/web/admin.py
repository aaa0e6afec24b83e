"""People, for administrators: the users list, and disable / enable / delete / groups / password.

Every change takes two steps without JavaScript: a GET shows what will happen and a form (that
page changes nothing), and only its POST, with the session's CSRF token and the confirmation
field that form carries, makes the change. A delete also needs the user's name typed in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import RedirectResponse

from signoff.domain.models import MODEL_NAME
from signoff.domain.people import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from signoff.entrypoints.web.common import WebRoute, check_csrf, render, signed_in, web_state
from signoff.errors import InvalidInput, PermissionDenied
from signoff.services import accounts, people
from signoff.services.web_sessions import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)

UserName = Path(pattern=f"^{MODEL_NAME.pattern}$")
ACTIONS = {
    "disable": "Disable",
    "enable": "Enable",
    "delete": "Delete",
    "groups": "Change groups",
    "password": "Set a new password",
}


def _admin(request: Request) -> WebUser:
    user = signed_in(request)
    if not user.admin:
        raise PermissionDenied(f"{user.name} is not an administrator; only administrators manage people",
                               details={"required": ["admin"]})
    return user


@router.get("/admin/users")
def user_list(request: Request) -> Response:
    _admin(request)
    return render(request, "admin_users.html", users=accounts.list_users(uow=web_state(request).ctx.uow()))


@router.get("/admin/users/{name}")
def user_page(request: Request, name: str = UserName, done: str = "") -> Response:
    _admin(request)
    person = accounts.get_user(uow=web_state(request).ctx.uow(), name=name)
    return render(request, "admin_user.html", person=person, action=None, actions=ACTIONS,
                  done=ACTIONS.get(done, ""))


@router.get("/admin/users/{name}/{action}")
def confirm_page(request: Request, name: str = UserName, action: str = Path(max_length=16)) -> Response:
    """The confirmation step: what will happen, and the form that does it."""
    _admin(request)
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}", details={"action": action})
    person = accounts.get_user(uow=web_state(request).ctx.uow(), name=name)
    return render(request, "admin_user.html", person=person, action=action, actions=ACTIONS, done="",
                  min_password=MIN_PASSWORD_LENGTH, max_password=MAX_PASSWORD_LENGTH)


@router.post("/admin/users/{name}/{action}")
def change(request: Request, name: str = UserName, action: str = Path(max_length=16), csrf_token: str = Form(""),
           confirm: str = Form(""), reason: str = Form("", max_length=256), groups: str = Form("", max_length=4096),
           password: str = Form("", max_length=MAX_PASSWORD_LENGTH),
           password_again: str = Form("", max_length=MAX_PASSWORD_LENGTH)) -> Response:
    admin = _admin(request)
    check_csrf(admin, csrf_token)
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}", details={"action": action})
    wanted = name if action == "delete" else "yes"
    if confirm != wanted:
        what = f"type the user name {name!r} to confirm" if action == "delete" else "confirm on the previous page"
        raise InvalidInput(f"not changed: {what}", details={"field": "confirm"})
    _apply(request, admin, name, action, reason=reason, groups=groups, password=password, again=password_again)
    return RedirectResponse(f"/admin/users/{name}?done={action}", status_code=303)


def _apply(request: Request, admin: WebUser, name: str, action: str, **form: Any) -> None:
    from signoff.entrypoints.api.routes.users import forget_user

    uow, actor = web_state(request).ctx.uow(), admin.name
    if action == "disable":
        people.disable_user(uow=uow, name=name, actor=actor, reason=form["reason"])
        forget_user(request.app, name)
    elif action == "enable":
        people.enable_user(uow=uow, name=name, actor=actor)
    elif action == "delete":
        people.delete_user(uow=uow, name=name, actor=actor)
        forget_user(request.app, name)
    elif action == "groups":
        chosen = [g.strip() for g in form["groups"].replace("\n", ",").split(",") if g.strip()]
        accounts.set_groups(uow=uow, name=name, groups=chosen, actor=actor)
    else:
        if form["password"] != form["again"]:
            raise InvalidInput("the two passwords differ; nothing was changed", details={"field": "password"})
        from signoff.adapters.passwords import hash_password

        password = people.check_password(form["password"])
        people.set_password(uow=uow, name=name, password_hash=hash_password(password), actor=actor)
