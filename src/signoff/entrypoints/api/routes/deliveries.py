"""`/api/v1/deliveries`: each (event, rule, target), its attempts; dead letters and replay.

Also the event-bus figures for `/metrics` (``DeliveryCollector``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from fastapi import Depends, Path, Query
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.cached import Cached
from signoff.entrypoints.api.deps import (
    MAX_PAGE,
    IntCursor,
    context,
    current_principal,
    int_cursor,
    next_cursor,
    require,
)
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import DeliveryDetail, DeliveryPublic, Page
from signoff.services import deliveries

router = api_router("deliveries")

DeliveryId = Path(ge=1, le=2**53)


@router.get("/deliveries", response_model=Page[DeliveryPublic])
def list_deliveries(state: Literal["pending", "running", "succeeded", "dead"] | None = None,
                    rule: str | None = Query(None, max_length=128), cursor: IntCursor = None,
                    limit: int = Query(100, ge=1, le=MAX_PAGE), principal: Principal = Depends(current_principal),
                    ctx: Context = Depends(context)) -> dict[str, Any]:
    """Deliveries oldest first; `?state=dead` lists the dead letters."""
    items = deliveries.list_deliveries(uow=ctx.read_uow(), state=state, rule=rule or None, after=int_cursor(cursor),
                                     limit=limit)
    return {"items": items, "next_cursor": next_cursor(items, limit, "id")}


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(delivery_id: int = DeliveryId, principal: Principal = Depends(current_principal),
                 ctx: Context = Depends(context)) -> dict[str, Any]:
    """One delivery with every attempt (worker, duration, outcome, status code, error)."""
    return deliveries.get_delivery(uow=ctx.read_uow(), delivery_id=delivery_id)


@router.post("/deliveries/{delivery_id}/replay", response_model=DeliveryPublic)
def replay_delivery(delivery_id: int = DeliveryId, principal: Principal = Depends(require("admin")),
                    ctx: Context = Depends(context)) -> dict[str, Any]:
    """Queue a dead (or succeeded) delivery again with a fresh set of attempts and the same
    idempotency key; 409 while it is pending or running. Scope: admin."""
    return deliveries.replay_and_drain(uow_factory=ctx.uow, delivery_id=delivery_id, actor=principal.name,
                                       drain=ctx.inline_drain)


class DeliveryCollector(Collector):
    """Deliveries by state and target type, attempts by outcome, and the age of the oldest
    event not yet delivered everywhere (0 when nothing waits).

    On PostgreSQL the database keeps the counts (triggers, migration 0016), so every scrape
    reads all of them, exact, in a few rows. Elsewhere what an operator watches (backlog, dead
    letters, the oldest event's age) is read at every scrape through indexes; the succeeded
    deliveries and the attempts, which need a scan of both tables, come from a value refreshed
    in the background every `cache_seconds`.
    """

    def __init__(self, ctx: Context, *, cache_seconds: float = 0.0) -> None:
        self.ctx = ctx
        self.totals = Cached(self._read_totals, ttl=cache_seconds, name="delivery-totals")

    def _read_totals(self) -> dict[str, Any]:
        with self.ctx.read_uow() as uow:
            return uow.deliveries.totals()

    def _figures(self) -> tuple[list[dict[str, Any]], dict[str, int], Any]:
        with self.ctx.read_uow() as uow:
            if uow.deliveries.tallied:
                stats = uow.deliveries.stats()
                return stats["deliveries"], stats["attempts"], stats["oldest_undelivered_event_time"]
            live = uow.deliveries.live_stats()
        totals = self.totals.get()
        return totals["succeeded"] + live["deliveries"], totals["attempts"], live["oldest_undelivered_event_time"]

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        try:
            counts, outcomes, oldest = self._figures()
        except Exception:  # a scrape must not fail because the database blinked
            return
        deliveries = GaugeMetricFamily("signoff_deliveries", "Deliveries by state and target type",
                                       labels=["state", "target_type"])
        for row in counts:
            deliveries.add_metric([row["state"], row["target_type"]], float(row["count"]))
        yield deliveries
        attempts = CounterMetricFamily("signoff_delivery_attempts", "Delivery attempts by outcome",
                                       labels=["outcome"])
        for outcome, count in sorted(outcomes.items()):
            attempts.add_metric([outcome], float(count))
        yield attempts
        age = max(0.0, (self.ctx.clock.now() - oldest).total_seconds()) if oldest else 0.0
        yield GaugeMetricFamily("signoff_events_oldest_undelivered_age_seconds",
                                "Age of the oldest event still waiting for fan-out or delivery", value=age)
