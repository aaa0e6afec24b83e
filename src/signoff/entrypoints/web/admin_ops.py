"""Operations pages for administrators: API tokens, rules, deliveries.

As on the people pages, a change is a POST with the session's CSRF token, and the ones that
take something away (revoking a token, switching a rule) go through a confirmation page first.
Each calls the same service as the API, so each is audited the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from signoff.domain.deliveries import STATES as DELIVERY_STATES
from signoff.domain.identity import SCOPES
from signoff.entrypoints.web.common import WebRoute, check_csrf, render, signed_in, web_state
from signoff.entrypoints.web.finding import counted_pager
from signoff.entrypoints.web.paging import page_url
from signoff.errors import InvalidInput, NotFound, PermissionDenied
from signoff.services import accounts, browse, deliveries, rules, search, tokens
from signoff.services.web_sessions import WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)

RuleName = Path(max_length=128)
TokenId = Path(ge=1, le=2**31 - 1)
RULE_ACTIONS = {"enable": True, "disable": False}
MAX_TOKEN_DAYS = 3650


def _admin(request: Request) -> WebUser:
    user = signed_in(request)
    if not user.admin:
        raise PermissionDenied(f"{user.name} is not an administrator; only administrators open this page",
                               details={"required": ["admin"]})
    return user


def _checked_admin(request: Request, csrf_token: str) -> WebUser:
    user = _admin(request)
    check_csrf(user, csrf_token)
    return user


# --- tokens ----------------------------------------------------------------------------------


def _tokens_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    ctx = web_state(request).ctx
    people = [u["name"] for u in accounts.list_users(uow=ctx.read_uow()) if u["state"] == "active"]
    items = list(reversed(tokens.list_tokens(uow=ctx.read_uow())))
    return render(request, "admin_tokens.html", status_code=status_code, tokens=items, people=people,
                  scopes=SCOPES, max_days=MAX_TOKEN_DAYS, **context)


@router.get("/admin/tokens")
def token_list(request: Request, revoked: int = Query(0, ge=0, le=2**31 - 1)) -> Response:
    _admin(request)
    return _tokens_page(request, created=None, revoked=revoked)


@router.post("/admin/tokens")
def token_create(request: Request, csrf_token: str = Form(""), owner: str = Form("", max_length=128),
                 name: str = Form("", max_length=128), scopes: list[str] = Form([]),
                 expires_days: str = Form("", max_length=8)) -> Response:
    """Create a token; the page that answers is the only place its value is ever shown."""
    admin = _checked_admin(request, csrf_token)
    days = None
    if expires_days.strip():
        if not expires_days.strip().isdigit() or not 1 <= int(expires_days) <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"expiry must be a whole number of days from 1 to {MAX_TOKEN_DAYS}",
                               details={"field": "expires_days"})
        days = int(expires_days)
    value, info = tokens.create_token(uow=web_state(request).ctx.uow(), user=owner, scopes=scopes, actor=admin.name,
                                      expires_in=timedelta(days=days) if days else None, name=name.strip())
    return _tokens_page(request, status_code=201, created={**info, "token": value}, revoked=0)


@router.get("/admin/tokens/{token_id}/revoke")
def token_revoke_confirm(request: Request, token_id: int = TokenId) -> Response:
    _admin(request)
    found = [t for t in tokens.list_tokens(uow=web_state(request).ctx.read_uow()) if t["id"] == token_id]
    if not found:
        raise NotFound(f"token {token_id} not found", details={"token_id": token_id})
    return render(request, "admin_confirm.html", title=f"Revoke token {found[0]['prefix']}…",
                  question=f"Revoke token {found[0]['prefix']}… of {found[0]['user']}"
                           f"{' (' + found[0]['name'] + ')' if found[0]['name'] else ''}?",
                  consequence="Calls with it are refused at once on this server and within seconds on the others. "
                              "This cannot be undone; create a new token instead.",
                  action=f"/admin/tokens/{token_id}/revoke", button="Revoke the token", back="/admin/tokens")


@router.post("/admin/tokens/{token_id}/revoke")
def token_revoke(request: Request, token_id: int = TokenId, csrf_token: str = Form(""),
                 confirm: str = Form("")) -> Response:
    admin = _checked_admin(request, csrf_token)
    if confirm != "yes":
        raise InvalidInput("not revoked: confirm on the previous page", details={"field": "confirm"})
    tokens.revoke_token(uow=web_state(request).ctx.uow(), token_id=token_id, actor=admin.name)
    verifier = getattr(request.app.state, "verifier", None)
    if verifier is not None:
        verifier.forget()
    return RedirectResponse(f"/admin/tokens?revoked={token_id}", status_code=303)


# --- rules -----------------------------------------------------------------------------------


@router.get("/admin/rules")
def rule_list(request: Request, changed: str = Query("", max_length=128)) -> Response:
    _admin(request)
    items = rules.list_rules(uow=web_state(request).ctx.read_uow())
    return render(request, "admin_rules.html", rules=items,
                  changed=next((r for r in items if r["name"] == changed), None))


@router.get("/admin/rules/{name}/{action}")
def rule_confirm(request: Request, name: str = RuleName, action: str = Path(max_length=8)) -> Response:
    _admin(request)
    if action not in RULE_ACTIONS:
        raise InvalidInput(f"unknown action {action!r} (enable or disable)", details={"action": action})
    rule = rules.get_rule(uow=web_state(request).ctx.read_uow(), name=name)
    consequence = ("Events from now on match it and are sent to its targets."
                   if RULE_ACTIONS[action] else
                   "Events from now on no longer go to its targets; deliveries already queued still run.")
    if RULE_ACTIONS[action] == rule["enabled"]:
        consequence = f"It is {action}d already; confirming changes nothing."
    return render(request, "admin_confirm.html", title=f"{action.capitalize()} rule {name}",
                  question=f"{action.capitalize()} the rule {name!r}?", consequence=consequence,
                  action=f"/admin/rules/{name}/{action}", button=f"{action.capitalize()} the rule",
                  back="/admin/rules")


@router.post("/admin/rules/{name}/{action}")
def rule_change(request: Request, name: str = RuleName, action: str = Path(max_length=8),
                csrf_token: str = Form(""), confirm: str = Form("")) -> Response:
    admin = _checked_admin(request, csrf_token)
    if action not in RULE_ACTIONS:
        raise InvalidInput(f"unknown action {action!r} (enable or disable)", details={"action": action})
    if confirm != "yes":
        raise InvalidInput("not changed: confirm on the previous page", details={"field": "confirm"})
    rules.set_enabled(uow=web_state(request).ctx.uow(), name=name, enabled=RULE_ACTIONS[action], actor=admin.name)
    return RedirectResponse(f"/admin/rules?changed={name}", status_code=303)


# --- deliveries ------------------------------------------------------------------------------


@router.get("/admin/deliveries")
def delivery_list(
    request: Request, state: str = Query("", max_length=16), rule: str = Query("", max_length=128),
    target: str = Query("", max_length=32), event: str = Query("", max_length=128),
    id: int | None = Query(None, ge=1, le=2**53), replayed: int | None = Query(None, ge=1, le=2**53),  # noqa: A002
    page: int = Query(1, ge=1, le=2**31 - 1), size: int = Query(50, ge=1, le=browse.MAX_PAGE),
) -> Response:
    _admin(request)
    ctx = web_state(request).ctx
    found = search.find_deliveries(uow=ctx.read_uow(), state=state or None, rule=rule or None,
                                   target_type=target or None, event_type=event.strip() or None, delivery_id=id,
                                   page=page, size=size)
    replay = deliveries.get_delivery(uow=ctx.read_uow(), delivery_id=replayed) if replayed else None
    filters = {"state": state, "rule": rule, "target": target, "event": event, "id": str(id or "")}
    return render(request, "admin_deliveries.html", items=found.items, pager=counted_pager(request, found),
                  pager_first_url=page_url(request, 1), filters=filters, filtered=any(filters.values()),
                  rules=found.extra["rules"], states=DELIVERY_STATES, replay=replay)


@router.post("/admin/deliveries/{delivery_id}/replay")
def delivery_replay(request: Request, delivery_id: int = Path(ge=1, le=2**53), csrf_token: str = Form("")) -> Response:
    admin = _checked_admin(request, csrf_token)
    ctx = web_state(request).ctx
    # As the API does: without a worker, the replay is sent now.
    deliveries.replay_and_drain(uow_factory=ctx.uow, delivery_id=delivery_id, actor=admin.name,
                                drain=ctx.inline_drain)
    return RedirectResponse(f"/admin/deliveries?id={delivery_id}&replayed={delivery_id}", status_code=303)
