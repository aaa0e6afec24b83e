"""What a decision does, said before it is made, and what it did, said after.

An approver should never have to guess whether their click makes a version live or only counts
towards a quorum, or who hears about it next. This answers from the same facts the decision
uses: the request's quorum with the viewer's approval added, the pointer it would move, the
next environment's approvers, and whether an enabled rule opens the next request or tells the
registrant.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from signoff.domain.approvals import ApprovalRequest, Decision, RequestState, Verdict
from signoff.domain.workflow import Workflow
from signoff.services.ports import UnitOfWork


def decision_outlook(*, uow: UnitOfWork, workflow: Workflow, request: ApprovalRequest,
                     viewer: str | None) -> dict[str, Any]:
    """Sentences for the review page: `approve` and `reject` (what each would do now, for an open
    request) and `outcome` (what happened, once it is decided)."""
    with uow:
        return outlook_in(uow, workflow, request, viewer)


def outlook_in(uow: UnitOfWork, workflow: Workflow, request: ApprovalRequest, viewer: str | None) -> dict[str, Any]:
    """`decision_outlook` inside the caller's transaction (the review page reads everything in one)."""
    groups = uow.users.groups_of(viewer) if viewer else set()
    live_row = uow.live.row(request.model, request.env)
    live = live_row.number if live_row is not None else None
    targets = [dict(t) for r in uow.rules.list() if r.enabled for t in (r.targets or [])]
    registrant = uow.versions.row(uow.models.row(request.model), request.version).registered_by
    opens_promotions = any(t.get("type") == "request_promotion" for t in targets)
    tells_registrant = any(t.get("type") == "email" and "registrant" in (t.get("to") or []) for t in targets)
    v, env = f"v{request.version}", request.env
    nxt = workflow.next(env)
    if nxt is None:
        next_step = f"{env} is the last environment: nothing further is asked."
    elif not opens_promotions:
        next_step = (f"No enabled rule opens promotions, so the {nxt} approvers "
                     f"({', '.join(workflow.policy(nxt).approvers)}) are asked only when someone requests {nxt}.")
    else:
        next_step = (f"The {nxt} approvers ({', '.join(workflow.policy(nxt).approvers)}) are asked next, "
                     f"once an inference report from {env} arrives.")
    told = f"{registrant} (who registered it) is told by email" if tells_registrant else f"{registrant} registered it"
    later = list(workflow.order[workflow.index(env) + 1:])
    stops = f"it stops there and cannot go on to {', '.join(later)}" if later else "it stops there"
    out: dict[str, Any] = {"approve": None, "reject": None, "outcome": None, "completes": False}
    if request.state is RequestState.OPEN:
        with_mine = replace(request, decisions=[*request.decisions, Decision(
            viewer or "", Verdict.APPROVE, "", request.created_at or datetime.now(UTC), sorted(groups))])
        completes = with_mine.quorum_reached()
        out["completes"] = completes
        if completes:
            moves = (f"{v} becomes live in {env}, replacing v{live}." if live is not None and live != request.version
                     else f"{v} becomes the first version live in {env}." if live is None
                     else f"{v} stays live in {env}.")
            out["approve"] = f"{moves} {next_step}"
        else:
            out["approve"] = (f"Your approval counts towards {env}'s quorum; after it the request still needs "
                              f"{with_mine.missing()}. {v} goes live in {env} once it has them.")
        out["reject"] = f"{v} is rejected in {env} and {stops}; {told}, with your comment."
    elif request.state is RequestState.APPROVED:
        now = (f"{v} is live in {env} now." if live == request.version
               else f"{v} was approved in {env}; v{live} is live there now." if live is not None
               else f"{v} was approved in {env}; nothing is live there now.")
        out["outcome"] = f"{now} {next_step}" if live == request.version else now
    elif request.state is RequestState.REJECTED:
        by = next((d.actor for d in request.decisions if d.verdict is Verdict.REJECT), "an approver")
        out["outcome"] = f"{v} was rejected in {env} by {by}: {stops}."
    else:
        out["outcome"] = f"This request is {request.state.value}; {v} was not approved in {env} by it."
    return out

