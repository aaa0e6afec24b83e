"""Finding things: versions across models, "my submissions", every request, the audit browser."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from signoff.entrypoints.web.common import WebRoute, check_csrf, render, signed_in, web_state
from signoff.entrypoints.web.paging import page_url, pager
from signoff.errors import InvalidInput, PermissionDenied
from signoff.services import audit_anchor, browse, search
from signoff.services.live import parameter_name

router = APIRouter(route_class=WebRoute, include_in_schema=False)


# A fresh Query per parameter: FastAPI binds one FieldInfo to one name, so sharing an instance
# between two parameters of a route makes the second read the first one's value.
def page_number() -> Any:
    return Query(1, ge=1, le=2**31 - 1)


def page_size() -> Any:
    return Query(50, ge=1, le=browse.MAX_PAGE)


def text() -> Any:
    return Query("", max_length=128)


def day() -> Any:
    return Query("", max_length=10)


def _day(value: str, field: str) -> datetime | None:
    """A form's yyyy-mm-dd as midnight UTC; a malformed one is a 400 page naming the field."""
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError:
        raise InvalidInput(f"{field} must be a date like 2026-11-30, not {value!r}", details={"field": field}) from None


def _day_range(start: str, end: str, names: tuple[str, str]) -> tuple[datetime | None, datetime | None]:
    """From the start of the first day to the end of the last (both days included)."""
    since, last = _day(start, names[0]), _day(end, names[1])
    return since, (last + timedelta(days=1) if last else None)


def counted_pager(request: Request, found: browse.Page) -> dict[str, Any]:
    """`pager`, for a count that stopped at the cap: next while pages come back full, no last."""
    if not found.extra.get("more"):
        return {**pager(request, found), "more": False}
    full = len(found.items) == found.size
    return {"total": found.total, "first_index": found.first_index, "last_index": found.last_index,
            "number": found.number, "pages": None, "more": True,
            "first": page_url(request, 1) if found.has_previous else None,
            "previous": page_url(request, found.number - 1) if found.has_previous else None,
            "next": page_url(request, found.number + 1) if full else None, "last": None}


def _common(request: Request, found: browse.Page, filters: dict[str, str]) -> dict[str, Any]:
    return {"pager": counted_pager(request, found), "pager_first_url": page_url(request, 1), "filters": filters,
            "filtered": any(filters.values())}


# --- versions and "my submissions" -----------------------------------------------------------


def _versions_page(request: Request, *, registrant: str, model: str, env: str, state: str, page: int, size: int,
                   mine: bool) -> Response:
    ctx = web_state(request).ctx
    found = search.find_versions(uow=ctx.read_uow(), workflow=ctx.workflow, registrant=registrant or None,
                                 model_text=model.strip() or None, env=env or None, state=state or None,
                                 page=page, size=size)
    filters = {"model": model, "env": env, "state": state, **({} if mine else {"registrant": registrant})}
    return render(request, "versions.html", versions=found.items, mine=mine, states=search.VERSION_STATES,
                  **_common(request, found, filters))


@router.get("/versions")
def versions(request: Request, registrant: str = text(), model: str = text(), env: str = Query("", max_length=64),
             state: str = Query("", max_length=32), page: int = page_number(), size: int = page_size()) -> Response:
    signed_in(request)
    return _versions_page(request, registrant=registrant.strip(), model=model, env=env, state=state, page=page,
                          size=size, mine=False)


@router.get("/submissions")
def submissions(request: Request, model: str = text(), env: str = Query("", max_length=64),
                state: str = Query("", max_length=32), page: int = page_number(), size: int = page_size()) -> Response:
    """The signed-in user's own versions, newest first, and where each one stands."""
    user = signed_in(request)
    return _versions_page(request, registrant=user.name, model=model, env=env, state=state, page=page, size=size,
                          mine=True)


# --- requests --------------------------------------------------------------------------------


@router.get("/requests")
def requests(request: Request, state: str = Query("", max_length=16), env: str = Query("", max_length=64),
             model: str = text(), show: str = Query("", max_length=16), decided_from: str = day(),
             decided_to: str = day(), page: int = page_number(), size: int = page_size()) -> Response:
    """Every approval request, open and decided, with its outcome and who decided."""
    user = signed_in(request)
    ctx = web_state(request).ctx
    since, until = _day_range(decided_from, decided_to, ("decided_from", "decided_to"))
    found = search.find_requests(
        uow=ctx.read_uow(), workflow=ctx.workflow, state=state or None, env=env or None,
        model_text=model.strip() or None, waiting_for=user.name if show == "waiting" else None,
        mine=user.name if show == "mine" else None, decided_since=since, decided_until=until, page=page, size=size)
    filters = {"state": state, "env": env, "model": model, "show": show if show in ("waiting", "mine") else "",
               "decided_from": decided_from, "decided_to": decided_to}
    return render(request, "requests.html", items=found.items, states=search.REQUEST_STATES,
                  **_common(request, found, filters))


# --- the audit browser -----------------------------------------------------------------------

_VERSION_SUBJECT = re.compile(r"^models/([^/]+)/versions/(\d+)$")
_MODEL_SUBJECT = re.compile(r"^models/([^/]+)$")
_ENV_SUBJECT = re.compile(r"^models/([^/]+)/environments/([^/]+)$")
_USER_SUBJECT = re.compile(r"^users/([^/]+)(?:/.*)?$")
_RULE_SUBJECT = re.compile(r"^rules/([^/]+)$")
_DELIVERY_SUBJECT = re.compile(r"^deliveries/(\d+)$")


def subject_link(subject: str, admin: bool) -> str | None:
    """The page an audit entry's subject lives on, when there is one this viewer may open."""
    if m := _VERSION_SUBJECT.match(subject):
        return f"/models/{quote(m[1])}/versions/{m[2]}"
    if m := _MODEL_SUBJECT.match(subject):
        return f"/models/{quote(m[1])}"
    if m := _ENV_SUBJECT.match(subject):
        return "/parameters?name=" + quote(parameter_name(m[1], m[2]), safe="")
    if admin and (m := _USER_SUBJECT.match(subject)):
        return f"/admin/users/{quote(m[1])}"
    if admin and (m := _RULE_SUBJECT.match(subject)):
        return f"/admin/rules#rule-{quote(m[1])}"
    if admin and (m := _DELIVERY_SUBJECT.match(subject)):
        return f"/admin/deliveries?id={m[1]}"
    return None


@router.get("/audit")
def audit(request: Request, actor: str = text(), action: str = Query("", max_length=64), model: str = text(),
          since: str = day(), until: str = day(), page: int = page_number(), size: int = page_size(),
          verified: str = Query("", max_length=8)) -> Response:
    """The audit log, newest first, searchable; with the hash chain's last verification."""
    user = signed_in(request)
    ctx = web_state(request).ctx
    start, end = _day_range(since, until, ("since", "until"))
    found = search.find_audit(uow=ctx.read_uow(), actor=actor.strip() or None, action=action or None,
                              model=model.strip() or None, since=start, until=end, page=page, size=size)
    entries = [{**e.to_dict(), "link": subject_link(e.subject, user.admin)} for e in found.items]
    filters = {"actor": actor, "action": action, "model": model, "since": since, "until": until}
    return render(request, "audit.html", entries=entries, actions=found.extra["actions"],
                  verification=found.extra["verification"], verified=verified == "1",
                  **_common(request, found, filters))


@router.post("/audit/verify")
def verify(request: Request, csrf_token: str = Form("")) -> Response:
    """Walk the whole chain now (checkpoints and cross-checks included); administrators only."""
    user = signed_in(request)
    check_csrf(user, csrf_token)
    if not user.admin:
        raise PermissionDenied(f"{user.name} is not an administrator; only administrators verify the audit chain",
                               details={"required": ["admin"]})
    ctx = web_state(request).ctx
    audit_anchor.verify_audit(uow=ctx.uow(), keys=ctx.keys, by=user.name)
    return RedirectResponse("/audit?verified=1", status_code=303)
