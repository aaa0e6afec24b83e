"""Approval requests: who may decide, when the quorum is reached, what closes a request.

The state machine is pure: ``ApprovalRequest.decide`` checks the policy against the facts the
service loaded (the actor's current groups, who registered the version, who approved the
previous environment) and either raises or records the decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from signoff.domain.timespec import frozen_by
from signoff.domain.workflow import Policy
from signoff.errors import GateFailed, InvalidInput, InvalidTransition, PermissionDenied, PolicyViolation


class RequestState(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass
class Decision:
    actor: str
    verdict: Verdict
    comment: str
    at: datetime
    groups: list[str] = field(default_factory=list)
    # What the decider was shown (services/evidence.py), frozen with the decision.
    evidence: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "decision": self.verdict.value,
            "comment": self.comment,
            "at": self.at.isoformat(),
            "groups": self.groups,
            "evidence": self.evidence,
        }


@dataclass
class DecisionContext:
    """Facts loaded by the service that the policy needs; kept explicit so tests can state them."""

    actor: str
    groups: set[str]
    registrant: str
    previous_stage_approvers: set[str]
    now: datetime
    live_since_previous: datetime | None = None  # when the version went live in env k-1
    break_glass: bool = False
    # The version's status in env k-1 now (None in the first environment): a request opened
    # while it was Approved there stops holding if it is revoked or rejected since.
    previous_status: str | None = None


@dataclass
class ApprovalRequest:
    id: int | None
    model: str
    version: int
    env: str
    kind: str  # "approval" (first environment) or "promotion"
    requested_by: str
    reason: str
    policy: Policy
    evidence: dict[str, float] = field(default_factory=dict)
    # Where `evidence` came from: {"source": "training"} or an inference report's env, rows, time.
    evidence_source: dict[str, Any] = field(default_factory=lambda: {"source": "training"})
    # Which check kept an auto-approving environment from approving on its own ({rule, message}).
    auto_blocked: dict[str, Any] | None = None
    gate_results: list[dict[str, Any]] = field(default_factory=list)
    digest: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    state: RequestState = RequestState.OPEN
    decided_at: datetime | None = None
    decisions: list[Decision] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"models/{self.model}/versions/{self.version}"

    @property
    def approvers(self) -> list[str]:
        return [d.actor for d in self.decisions if d.verdict is Verdict.APPROVE]

    def failed_gates(self) -> list[dict[str, Any]]:
        return [g for g in self.gate_results if not g.get("passed")]

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def check_can_decide(self, verdict: Verdict, ctx: DecisionContext) -> None:
        """Raise the reason this actor may not record this verdict now; return if allowed."""
        if self.state is not RequestState.OPEN:
            raise InvalidTransition(
                f"approval request {self.id} is {self.state.value}, not open",
                details={"request_id": self.id, "state": self.state.value},
            )
        if self.is_expired(ctx.now):
            raise InvalidTransition(
                f"approval request {self.id} expired at {self.expires_at.isoformat() if self.expires_at else ''}",
                details={"request_id": self.id, "state": "expired"},
            )
        policy = self.policy
        if not policy.may_decide(ctx.groups):
            raise PermissionDenied(
                f"{ctx.actor} is not a member of an approver group for {self.env} "
                f"({', '.join(policy.approvers)})",
                details={"required_groups": list(policy.approvers)},
            )
        if any(d.actor == ctx.actor for d in self.decisions):
            raise InvalidTransition(
                f"{ctx.actor} has already decided on approval request {self.id}; "
                "a second decision by the same person does not count",
                details={"request_id": self.id},
            )
        if verdict is Verdict.REJECT:
            return
        if ctx.actor == ctx.registrant and not policy.registrant_may_approve:
            raise PermissionDenied(
                f"{ctx.actor} registered version {self.version} and may not approve it "
                "(separation of duties)",
                details={"rule": "registrant_may_approve"},
            )
        if policy.distinct_from_previous_stage and ctx.actor in ctx.previous_stage_approvers:
            raise PermissionDenied(
                f"{ctx.actor} approved this version in the previous environment and may not "
                f"also approve it in {self.env}",
                details={"rule": "distinct_from_previous_stage"},
            )
        if ctx.previous_status is not None and ctx.previous_status != "Approved":
            raise InvalidTransition(
                f"version {self.version} is {ctx.previous_status} in the previous environment; "
                f"it can be approved in {self.env} only while it is Approved there",
                details={"rule": "order", "state": ctx.previous_status},
            )
        if policy.require_digest and not self.digest:
            raise PolicyViolation(
                f"version {self.version} has no artifact digest, so nobody can check which bytes would be "
                f"approved; {self.env} requires one (require_digest)",
                details={"rule": "require_digest"},
            )
        failed = self.failed_gates()
        if failed:
            names = "; ".join(f"{g['gate']} ({g.get('reason', 'failed')})" for g in failed)
            raise GateFailed(
                f"gate failed for {self.env}: {names}",
                details={"rule": "gates", "gates": failed},
            )
        window = frozen_by(policy.freeze, ctx.now)
        if window is not None:
            raise PolicyViolation(
                f"{self.env} is frozen ({window.text}); approvals reopen at "
                f"{window.next_open(ctx.now).isoformat()}",
                details={"rule": "freeze", "window": window.text},
            )
        if policy.min_soak and ctx.live_since_previous is not None:
            soaked = ctx.now - ctx.live_since_previous
            if soaked < policy.min_soak:
                raise PolicyViolation(
                    f"version {self.version} has been live in the previous environment for "
                    f"{int(soaked.total_seconds())}s; {self.env} needs at least "
                    f"{int(policy.min_soak.total_seconds())}s (min_soak)",
                    details={"rule": "min_soak"},
                )

    def decide(self, verdict: Verdict, comment: str, ctx: DecisionContext) -> Decision:
        """Record a decision and close the request if it is now rejected or has its quorum."""
        if verdict is Verdict.REJECT and not comment.strip():
            raise InvalidInput("a rejection needs a comment", details={"field": "comment"})
        self.check_can_decide(verdict, ctx)
        decision = Decision(ctx.actor, verdict, comment, ctx.now, sorted(ctx.groups))
        self.decisions.append(decision)
        if verdict is Verdict.REJECT:
            self._close(RequestState.REJECTED, ctx.now)
        elif self.quorum_reached():
            self._close(RequestState.APPROVED, ctx.now)
        return decision

    def quorum_reached(self) -> bool:
        approvals = [d for d in self.decisions if d.verdict is Verdict.APPROVE]
        if self.policy.quorum == "each-group":
            # One approval from each group; a person in two groups may cover only one of them.
            return _covers_each_group(
                [set(d.groups) & set(self.policy.approvers) for d in approvals],
                list(self.policy.approvers),
            )
        return len({d.actor for d in approvals}) >= self.policy.required_approvals

    def missing(self) -> str:
        """A short human phrase for what the request still needs."""
        approvals = [d for d in self.decisions if d.verdict is Verdict.APPROVE]
        if self.policy.quorum == "each-group":
            covered = set().union(*(set(d.groups) for d in approvals)) if approvals else set()
            need = [g for g in self.policy.approvers if g not in covered]
            return "one approval from each of " + ", ".join(need) if need else "nothing"
        left = self.policy.required_approvals - len(approvals)
        return f"{left} more approval{'s' if left != 1 else ''}" if left > 0 else "nothing"

    def cancel(self, now: datetime) -> None:
        if self.state is RequestState.OPEN:
            self._close(RequestState.CANCELLED, now)

    def expire(self, now: datetime) -> None:
        if self.state is RequestState.OPEN:
            self._close(RequestState.EXPIRED, now)

    def _close(self, state: RequestState, now: datetime) -> None:
        self.state = state
        self.decided_at = now

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "env": self.env,
            "kind": self.kind,
            "state": self.state.value,
            "requested_by": self.requested_by,
            "reason": self.reason,
            "evidence": self.evidence,
            "evidence_source": self.evidence_source,
            "auto_approve_blocked": self.auto_blocked,
            "gate_results": self.gate_results,
            "digest": self.digest,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decisions": [d.to_dict() for d in self.decisions],
            "policy": self.policy.to_dict(),
            "missing": self.missing() if self.state is RequestState.OPEN else None,
        }


def _covers_each_group(approver_groups: list[set[str]], groups: list[str]) -> bool:
    """Bipartite matching: can each group be covered by a distinct approver?"""
    match: dict[str, int] = {}

    def assign(i: int, seen: set[str]) -> bool:
        for g in approver_groups[i]:
            if g in seen:
                continue
            seen.add(g)
            if g not in match or assign(match[g], seen):
                match[g] = i
                return True
        return False

    for i in range(len(approver_groups)):
        assign(i, set())
    return all(g in match for g in groups)
