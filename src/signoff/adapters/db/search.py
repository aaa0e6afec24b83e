"""Searched, counted pages across the registry: versions, requests, audit entries, deliveries, tokens.

Each method returns one page (newest first, by offset) and how many match in all, and turns
rows into plain values at this boundary. Filters are optional and combine with AND.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, exists, func, literal, select, text
from sqlalchemy.orm import Session

from signoff.adapters.db.audit_log import audit_from_row
from signoff.adapters.db.tables import (
    AuditRow,
    DecisionRow,
    DeliveryRow,
    LiveRow,
    ModelRow,
    RequestRow,
    StageRow,
    VersionRow,
)
from signoff.domain.audit import AuditEntry
from signoff.domain.models import Stage
from signoff.services.representations import delivery_to_dict

# The board's vocabulary (domain.models.BoardState) as conditions on one environment's row.
STAGE_OF_STATE = {"approved": Stage.APPROVED, "rejected": Stage.REJECTED, "revoked": Stage.REVOKED}


_DISTINCT_ACTIONS = text(
    "WITH RECURSIVE actions(action) AS ("
    " SELECT min(action) FROM audit_log"
    " UNION ALL SELECT (SELECT min(action) FROM audit_log WHERE action > actions.action)"
    " FROM actions WHERE actions.action IS NOT NULL)"
    " SELECT action FROM actions").columns(action=String)


def _count(session: Session, table: Any, where: list[Any], count_to: int | None) -> int:
    """How many rows match, counting at most `count_to + 1` (past that, "more than count_to"
    is all a page needs, and counting every one of 100,000s of rows is what makes it slow)."""
    if count_to is None:
        return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)
    matching = select(literal(1)).select_from(table).where(*where).limit(count_to + 1).subquery()
    return int(session.scalar(select(func.count()).select_from(matching)) or 0)


def _open_request_in(env: str) -> Any:
    return exists().where(RequestRow.version_id == VersionRow.id, RequestRow.env == env, RequestRow.state == "open")


class SearchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- versions -----------------------------------------------------------------------------

    def versions(
        self, *, registrant: str | None = None, model_text: str | None = None, env: str | None = None,
        state: str | None = None, earlier_envs: Sequence[str] = (), offset: int = 0, limit: int = 50,
        count_to: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Versions across models, newest registration first, each with its stages, live
        environments and open requests (for the board vocabulary). `earlier_envs`, the chain
        before `env`, tells "not requested" from "blocked by an earlier rejection"."""
        where = []
        if registrant:
            where.append(VersionRow.registered_by == registrant)
        if model_text:
            where.append(VersionRow.model_id.in_(select(ModelRow.id).where(
                ModelRow.name.icontains(model_text, autoescape=True))))
        if env and state:
            where.append(self._state_in(env, state, earlier_envs))
        # Counted on versions alone; ids grow with registration, so id order is registration
        # order (and the registrant index serves it).
        total = _count(self.session, VersionRow, where, count_to)
        stmt = (select(VersionRow.id, ModelRow.name, VersionRow.number, VersionRow.registered_by,
                       VersionRow.registered_at, VersionRow.digest, ModelRow.owner_group)
                .join(ModelRow, ModelRow.id == VersionRow.model_id).where(*where))
        rows = self.session.execute(stmt.order_by(VersionRow.id.desc()).offset(offset).limit(limit)).all()
        ids = [r.id for r in rows]
        stages: dict[int, dict[str, str]] = {i: {} for i in ids}
        live: dict[int, list[str]] = {i: [] for i in ids}
        waiting: dict[int, dict[str, int]] = {i: {} for i in ids}
        if ids:
            for vid, e, status in self.session.execute(
                    select(StageRow.version_id, StageRow.env, StageRow.status).where(StageRow.version_id.in_(ids))):
                stages[vid][e] = status
            for vid, e in self.session.execute(select(LiveRow.version_id, LiveRow.env).where(LiveRow.version_id.in_(ids))):
                live[vid].append(e)
            for vid, e, rid in self.session.execute(select(RequestRow.version_id, RequestRow.env, RequestRow.id)
                                                    .where(RequestRow.version_id.in_(ids), RequestRow.state == "open")):
                waiting[vid][e] = rid
        return [{"model": r.name, "number": r.number, "registered_by": r.registered_by,
                 "registered_at": r.registered_at, "digest": r.digest, "owner_group": r.owner_group,
                 "stages": stages[r.id], "live_in": live[r.id], "open_in": waiting[r.id]} for r in rows], total

    @staticmethod
    def _state_in(env: str, state: str, earlier_envs: Sequence[str]) -> Any:
        # Driven from the smaller side (stages, live rows, open requests by their indexes), so a
        # rare state costs a few index reads instead of a probe per version.
        if state == "live":
            return VersionRow.id.in_(select(LiveRow.version_id).where(LiveRow.env == env))
        if state == "waiting_for_approval":
            return VersionRow.id.in_(select(RequestRow.version_id).where(RequestRow.state == "open",
                                                                         RequestRow.env == env))
        if state in ("not_requested", "blocked"):
            stopped = VersionRow.id.in_(select(StageRow.version_id).where(
                StageRow.env.in_(list(earlier_envs) or [""]),
                StageRow.status.in_([Stage.REJECTED.value, Stage.REVOKED.value])))
            pending = (VersionRow.id.in_(select(StageRow.version_id).where(
                StageRow.env == env, StageRow.status == Stage.PENDING.value)) & ~_open_request_in(env))
            return pending & (stopped if state == "blocked" else ~stopped)
        return VersionRow.id.in_(select(StageRow.version_id).where(
            StageRow.env == env, StageRow.status == STAGE_OF_STATE[state].value))

    # --- approval requests --------------------------------------------------------------------

    def requests(
        self, *, state: str | None = None, env: str | None = None, model_text: str | None = None,
        in_envs: Collection[str] | None = None, not_decided_by: str | None = None, mine: str | None = None,
        decided_since: datetime | None = None, decided_until: datetime | None = None,
        offset: int = 0, limit: int = 50, count_to: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Requests newest first with model, version, registrant and their decisions.

        `in_envs` and `not_decided_by` express "waiting for me"; `mine` keeps requests the user
        opened or whose version the user registered."""
        where = []
        if state:
            where.append(RequestRow.state == state)
        if env:
            where.append(RequestRow.env == env)
        if model_text:
            where.append(RequestRow.model_id.in_(select(ModelRow.id).where(
                ModelRow.name.icontains(model_text, autoescape=True))))
        if in_envs is not None:
            where.append(RequestRow.env.in_(list(in_envs)))
        if not_decided_by:
            where.append(RequestRow.id.not_in(select(DecisionRow.request_id).where(DecisionRow.actor == not_decided_by)))
        if mine:
            where.append((RequestRow.requested_by == mine)
                         | RequestRow.version_id.in_(select(VersionRow.id).where(VersionRow.registered_by == mine)))
        if decided_since:
            where.append(RequestRow.decided_at >= decided_since)
        if decided_until:
            where.append(RequestRow.decided_at < decided_until)
        # Every filter is on the requests table, so counting needs no join.
        total = _count(self.session, RequestRow, where, count_to)
        stmt = (select(RequestRow.id, RequestRow.env, RequestRow.kind, RequestRow.state, RequestRow.requested_by,
                       RequestRow.created_at, RequestRow.decided_at, RequestRow.expires_at, ModelRow.name,
                       VersionRow.number, VersionRow.registered_by)
                .join(ModelRow, ModelRow.id == RequestRow.model_id)
                .join(VersionRow, VersionRow.id == RequestRow.version_id).where(*where))
        rows = self.session.execute(stmt.order_by(RequestRow.id.desc()).offset(offset).limit(limit)).all()
        decisions = self._decisions([r.id for r in rows])
        return [{"id": r.id, "env": r.env, "kind": r.kind, "state": r.state, "requested_by": r.requested_by,
                 "created_at": r.created_at, "decided_at": r.decided_at, "expires_at": r.expires_at,
                 "model": r.name, "version": r.number, "registered_by": r.registered_by,
                 "decisions": decisions[r.id]} for r in rows], total

    def _decisions(self, request_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in request_ids}
        if request_ids:
            stmt = (select(DecisionRow.request_id, DecisionRow.actor, DecisionRow.verdict, DecisionRow.comment,
                           DecisionRow.at).where(DecisionRow.request_id.in_(list(request_ids))).order_by(DecisionRow.id))
            for rid, actor, verdict, comment, at in self.session.execute(stmt):
                out[rid].append({"actor": actor, "verdict": verdict, "comment": comment, "at": at})
        return out

    # --- the audit log ------------------------------------------------------------------------

    def audit(
        self, *, actor: str | None = None, action: str | None = None, model: str | None = None,
        since: datetime | None = None, until: datetime | None = None, offset: int = 0, limit: int = 50,
        count_to: int | None = None,
    ) -> tuple[list[AuditEntry], int]:
        """Audit entries newest first; `action` ending in "." matches every action of that family."""
        where = []
        if actor:
            where.append(AuditRow.actor == actor)
        if action:
            where.append(AuditRow.action.startswith(action, autoescape=True) if action.endswith(".")
                         else AuditRow.action == action)
        if model:
            where.append(AuditRow.model == model)
        if since:
            where.append(AuditRow.at >= since)
        if until:
            where.append(AuditRow.at < until)
        total = _count(self.session, AuditRow, where, count_to)
        # Page through ids first (an index holds them); only the page's rows are read in full.
        page = select(AuditRow.id).where(*where).order_by(AuditRow.id.desc()).offset(offset).limit(limit)
        rows = self.session.scalars(select(AuditRow).where(AuditRow.id.in_(page)).order_by(AuditRow.id.desc()))
        return [audit_from_row(r) for r in rows], total

    def audit_actions(self) -> list[str]:
        """The distinct actions, one index seek each (a plain DISTINCT reads every entry)."""
        return [a for a in self.session.scalars(_DISTINCT_ACTIONS) if a is not None]

    # --- deliveries ---------------------------------------------------------------------------

    def deliveries(
        self, *, state: str | None = None, rule: str | None = None, target_type: str | None = None,
        event_type: str | None = None, delivery_id: int | None = None, offset: int = 0, limit: int = 50,
        count_to: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Deliveries newest first (never their secrets)."""
        where = []
        if state:
            where.append(DeliveryRow.state == state)
        if rule:
            where.append(DeliveryRow.rule_name == rule)
        if target_type:
            where.append(DeliveryRow.target_type == target_type)
        if event_type:
            where.append(DeliveryRow.event_type == event_type)
        if delivery_id is not None:
            where.append(DeliveryRow.id == delivery_id)
        total = _count(self.session, DeliveryRow, where, count_to)
        rows = self.session.scalars(select(DeliveryRow).where(*where).order_by(DeliveryRow.id.desc())
                                    .offset(offset).limit(limit))
        return [delivery_to_dict(r) for r in rows], total
