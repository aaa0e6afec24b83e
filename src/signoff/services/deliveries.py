"""Use cases on deliveries: list, inspect, replay, and the figures for /metrics.

The engine that creates and runs deliveries is services/dispatch.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from signoff.domain.deliveries import STATES, DeliveryState
from signoff.errors import InvalidInput, InvalidTransition
from signoff.services.ports import UnitOfWork
from signoff.services.representations import attempt_to_dict, delivery_to_dict


def list_deliveries(*, uow: UnitOfWork, state: str | None = None, rule: str | None = None,
                    event_id: str | None = None, after: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Deliveries oldest first, filtered; raises InvalidInput for an unknown state."""
    if state and state not in STATES:
        raise InvalidInput(f"unknown delivery state {state!r} (one of {', '.join(STATES)})", details={"field": "state"})
    with uow:
        rows = uow.deliveries.list(state=state, rule=rule, event_id=event_id, after=after, limit=limit)
        return [delivery_to_dict(r) for r in rows]


def get_delivery(*, uow: UnitOfWork, delivery_id: int) -> dict[str, Any]:
    """One delivery with its attempts and event; raises NotFound."""
    with uow:
        row = uow.deliveries.row(delivery_id)
        out = delivery_to_dict(row)
        out["attempt_log"] = [attempt_to_dict(a) for a in uow.deliveries.attempts(delivery_id)]
        return out


def replay_delivery(*, uow: UnitOfWork, delivery_id: int, actor: str) -> dict[str, Any]:
    """Queue a dead (or succeeded) delivery again with a fresh attempt budget and the same
    idempotency key; raises NotFound, InvalidTransition (it is still pending or running)."""
    with uow:
        row = uow.deliveries.row(delivery_id)
        if row.state not in (DeliveryState.DEAD.value, DeliveryState.SUCCEEDED.value):
            raise InvalidTransition(f"delivery {delivery_id} is {row.state}; only dead or succeeded deliveries "
                                    "can be replayed", details={"delivery_id": delivery_id, "state": row.state})
        now = uow.clock.now()
        before = row.state
        row.state, row.attempts, row.replays = DeliveryState.PENDING.value, 0, row.replays + 1
        row.next_attempt_at, row.updated_at, row.finished_at = now, now, None
        uow.record(actor=actor, action="delivery.replayed", subject=f"deliveries/{delivery_id}", model=None,
                   before={"state": before}, after={"state": row.state, "replays": row.replays,
                                                    "rule": row.rule_name, "event_id": row.event_id})
        uow.commit()
        return delivery_to_dict(row)


def replay_and_drain(*, uow_factory: Callable[[], UnitOfWork], delivery_id: int, actor: str,
                     drain: Callable[[], None] | None = None) -> dict[str, Any]:
    """`replay_delivery` as every door does it: with `drain` (the inline dispatch, when it is on)
    the delivery is run at once and the answer is where it stands then, without its attempt log."""
    out = replay_delivery(uow=uow_factory(), delivery_id=delivery_id, actor=actor)
    if drain is not None:
        drain()  # no event was written, but there is work to do now
        out = get_delivery(uow=uow_factory(), delivery_id=delivery_id)
        out.pop("attempt_log")
    return out


def delivery_stats(*, uow: UnitOfWork, now: datetime) -> dict[str, Any]:
    """Figures for /metrics: deliveries by state and target type, attempts, backlog age (s)."""
    with uow:
        stats = uow.deliveries.stats()
    oldest = stats.pop("oldest_undelivered_event_time")
    stats["oldest_undelivered_age_seconds"] = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return stats
