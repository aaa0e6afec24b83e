"""`/api/v1/rules`: event rules (EventBridge patterns and their targets), and a pattern tester."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Path, Response

from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.entrypoints.api.deps import context, current_principal, require
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import (
    Page,
    PatternTest,
    PatternTestResult,
    RuleCreate,
    RulePublic,
    RuleUpdate,
)
from signoff.services import rules

router = api_router("rules")

RulePath = Path(max_length=128)


@router.get("/rules", response_model=Page[RulePublic])
def list_rules(principal: Principal = Depends(current_principal), ctx: Context = Depends(context)) -> dict[str, Any]:
    """Every rule by name (built-in defaults, signoff.toml and API-made ones); secrets are redacted."""
    return {"items": rules.list_rules(uow=ctx.read_uow()), "next_cursor": None}


@router.post("/rules", status_code=201, response_model=RulePublic)
def create_rule(body: RuleCreate, principal: Principal = Depends(require("admin")),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """Add a rule. An invalid pattern is refused (400, `invalid_pattern`) with the JSON path of the
    fault in `details.path`; a `python` target outside `[events] python_targets` is refused (400).
    Secrets in targets (`secret`, header values, URL passwords and tokens) are write-only. Scope: admin."""
    spec = body.model_dump(mode="json", exclude_none=True)
    return rules.add_rule(uow=ctx.uow(), spec=spec, actor=principal.name,
                          python_targets=ctx.settings.events.python_targets)


@router.post("/rules/test", response_model=PatternTestResult)
def test_pattern(body: PatternTest, principal: Principal = Depends(require("rules"))) -> dict[str, Any]:
    """Whether `event` matches `pattern` (EventBridge semantics); an invalid pattern, or one beyond
    EventBridge's limits (2,048 characters, wildcard complexity), is a 400 naming its JSON path.
    Scope: rules or admin."""
    return {"match": rules.test_pattern(pattern=body.pattern, event=body.event)}


@router.get("/rules/{name}", response_model=RulePublic)
def get_rule(name: str = RulePath, principal: Principal = Depends(current_principal),
             ctx: Context = Depends(context)) -> dict[str, Any]:
    """One rule."""
    return rules.get_rule(uow=ctx.read_uow(), name=name)


@router.patch("/rules/{name}", response_model=RulePublic)
def update_rule(body: RuleUpdate, name: str = RulePath, principal: Principal = Depends(require("admin")),
                ctx: Context = Depends(context)) -> dict[str, Any]:
    """Enable or disable a rule (deliveries already queued still run). Scope: admin."""
    return rules.set_enabled(uow=ctx.uow(), name=name, enabled=body.enabled, actor=principal.name)


@router.delete("/rules/{name}", status_code=204, response_class=Response)
def delete_rule(name: str = RulePath, principal: Principal = Depends(require("admin")),
                ctx: Context = Depends(context)) -> Response:
    """Delete a rule; one from signoff.toml comes back at the next start. Scope: admin."""
    rules.delete_rule(uow=ctx.uow(), name=name, actor=principal.name)
    return Response(status_code=204)
