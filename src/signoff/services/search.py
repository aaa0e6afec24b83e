"""Finding things among many: counted, filtered pages of versions, requests, audit entries and
deliveries (the web UI's lists; /models and a board are in services/browse.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signoff.domain.approvals import RequestState
from signoff.domain.deliveries import STATES as DELIVERY_STATES
from signoff.domain.models import BOARD_LABELS, Stage, board_states
from signoff.domain.workflow import Workflow
from signoff.errors import InvalidInput
from signoff.services.browse import Page, _bounds
from signoff.services.ports import UnitOfWork

# What a version's state in one environment can be searched for: the board's words, and live.
VERSION_STATES = {"live": "live now", **{s.value: label for s, label in BOARD_LABELS.items()}}
REQUEST_STATES = tuple(s.value for s in RequestState)
# Lists count their matches up to this many; beyond it a page says "more than 10,000" and offers
# next/previous but no last page (an exact count of 100,000s of rows costs more than the page).
COUNT_TO = 10_000


def _page(items: list[Any], total: int, page: int, size: int, **extra: Any) -> Page:
    more = total > COUNT_TO
    return Page(items=items, total=min(total, COUNT_TO), number=page, size=size, extra={**extra, "more": more})


def _check_env(workflow: Workflow, env: str | None) -> None:
    if env:
        workflow.check_env(env)


def _check_range(since: datetime | None, until: datetime | None) -> None:
    if since and until and until <= since:
        raise InvalidInput("the end of the time range must be after its start", details={"field": "until"})


def find_versions(
    *, uow: UnitOfWork, workflow: Workflow, registrant: str | None = None, model_text: str | None = None,
    env: str | None = None, state: str | None = None, page: int = 1, size: int = 50,
) -> Page:
    """Versions across all models, newest first, each with where it stands in every environment
    (the board's vocabulary); `state` applies to `env`. Raises NotFound (env), InvalidInput (state)."""
    page, size = _bounds(page, size)
    _check_env(workflow, env)
    if state and state not in VERSION_STATES:
        raise InvalidInput(f"unknown version state {state!r} (one of {', '.join(VERSION_STATES)})",
                           details={"field": "state"})
    if state and not env:
        raise InvalidInput("choose the environment the state is about", details={"field": "env"})
    with uow:
        earlier = workflow.order[:workflow.order.index(env)] if env else []
        found, total = uow.search.versions(registrant=registrant, model_text=model_text, env=env, state=state,
                                           earlier_envs=earlier, offset=(page - 1) * size, limit=size,
                                           count_to=COUNT_TO)
    for item in found:
        stages = {e: Stage(item["stages"].get(e, Stage.PENDING.value)) for e in workflow.order}
        item["board"] = {e: s.value for e, s in board_states(stages, set(item["open_in"])).items()}
        item["live_in"] = [e for e in workflow.order if e in item["live_in"]]
    return _page(found, total, page, size)


def find_requests(
    *, uow: UnitOfWork, workflow: Workflow, state: str | None = None, env: str | None = None,
    model_text: str | None = None, waiting_for: str | None = None, mine: str | None = None,
    decided_since: datetime | None = None, decided_until: datetime | None = None, page: int = 1, size: int = 50,
) -> Page:
    """Approval requests newest first with their decisions. `waiting_for` keeps the open ones in
    environments that user approves for and has not decided yet; `mine` the ones that user opened
    or whose version that user registered. Raises NotFound (env), InvalidInput."""
    page, size = _bounds(page, size)
    _check_env(workflow, env)
    _check_range(decided_since, decided_until)
    if state and state not in REQUEST_STATES:
        raise InvalidInput(f"unknown request state {state!r} (one of {', '.join(REQUEST_STATES)})",
                           details={"field": "state"})
    with uow:
        in_envs = None
        if waiting_for:
            groups = uow.users.groups_of(waiting_for)
            in_envs = [e for e in workflow.order if workflow.policy(e).may_decide(groups)]
            state = RequestState.OPEN.value if state in (None, RequestState.OPEN.value) else state
        found, total = uow.search.requests(
            state=state, env=env, model_text=model_text, in_envs=in_envs, not_decided_by=waiting_for, mine=mine,
            decided_since=decided_since, decided_until=decided_until, offset=(page - 1) * size, limit=size,
            count_to=COUNT_TO)
    return _page(found, total, page, size)


def find_audit(
    *, uow: UnitOfWork, actor: str | None = None, action: str | None = None, model: str | None = None,
    since: datetime | None = None, until: datetime | None = None, page: int = 1, size: int = 50,
) -> Page:
    """Audit entries newest first, with the known actions and the last chain verification in
    `extra`; raises InvalidInput for a time range that ends before it starts."""
    page, size = _bounds(page, size)
    _check_range(since, until)
    with uow:
        found, total = uow.search.audit(actor=actor, action=action, model=model, since=since, until=until,
                                        offset=(page - 1) * size, limit=size, count_to=COUNT_TO)
        extra: dict[str, Any] = {"actions": uow.search.audit_actions(),
                                 "verification": uow.verifications.latest()}
    return _page(found, total, page, size, **extra)


def find_deliveries(
    *, uow: UnitOfWork, state: str | None = None, rule: str | None = None, target_type: str | None = None,
    event_type: str | None = None, delivery_id: int | None = None, page: int = 1, size: int = 50,
) -> Page:
    """Deliveries newest first, secrets redacted; raises InvalidInput for an unknown state."""
    page, size = _bounds(page, size)
    if state and state not in DELIVERY_STATES:
        raise InvalidInput(f"unknown delivery state {state!r} (one of {', '.join(DELIVERY_STATES)})",
                           details={"field": "state"})
    with uow:
        found, total = uow.search.deliveries(state=state, rule=rule, target_type=target_type, event_type=event_type,
                                             delivery_id=delivery_id, offset=(page - 1) * size, limit=size,
                                             count_to=COUNT_TO)
        rules = [r.name for r in uow.rules.list()]
    return _page(found, total, page, size, rules=rules)
