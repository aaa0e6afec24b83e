"""Use cases of rules: add, list, show, enable/disable, delete, and the start-up sync.

Rules come from three places, recorded in ``source``: the built-in workflow rules
(``default``), ``[[rules]]`` in signoff.toml (``config``), and the CLI/API (``api``). Config
is declarative: a config rule that disappears from the file is deleted at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from signoff.domain.rules import DEFAULT_RULES, Rule, check_python_targets, join_target, parse_rule
from signoff.domain.rules import test_pattern as _test_pattern
from signoff.errors import InvalidInput, SignoffError
from signoff.services.ports import UnitOfWork
from signoff.services.records import RuleRecord
from signoff.services.representations import rule_to_dict

log = logging.getLogger("signoff.rules")

DEFAULTS_ACTOR = "signoff:defaults"
CONFIG_ACTOR = "signoff:config"


def rule_from_row(row: RuleRecord) -> Rule:
    """The whole rule, secrets joined back: for the dispatcher, never for display."""
    secrets = list(row.target_secrets or [])
    targets = [join_target(t, secrets[i] if i < len(secrets) else None) for i, t in enumerate(row.targets or [])]
    return parse_rule({"name": row.name, "description": row.description, "enabled": row.enabled,
                       "pattern": row.pattern, "targets": targets})


def load_rules(*, uow: UnitOfWork) -> list[Rule]:
    """Every stored rule that still validates (a bad row is logged and skipped, never fatal)."""
    out = []
    for row in uow.rules.list():
        try:
            out.append(rule_from_row(row))
        except SignoffError as exc:
            log.error("rule %r is invalid and ignored: %s", row.name, exc.message)
    return out


def _definition(rule: Rule) -> dict[str, Any]:
    data = rule.to_dict()
    public, secrets = rule.split_targets()
    return {"description": data["description"], "pattern": data["pattern"], "targets": public,
            "target_secrets": secrets if any(secrets) else None}


_UNAUDITED = ("targets", "target_secrets")  # changed targets are recorded by the revision, not their text


def _insert(uow: UnitOfWork, rule: Rule, *, source: str, actor: str) -> RuleRecord:
    now = uow.clock.now()
    row = uow.rules.add(name=rule.name, enabled=rule.enabled, source=source, actor=actor, at=now, **_definition(rule))
    uow.record(actor=actor, action="rule.created", subject=f"rules/{rule.name}", model=None,
               after={**rule.to_dict(redact=True), "source": source})
    return row


def _update(uow: UnitOfWork, row: RuleRecord, actor: str, **changes: Any) -> bool:
    before = {k: getattr(row, k) for k in changes}
    if before == changes:
        return False
    for key, value in changes.items():
        setattr(row, key, value)
    row.revision = uow.rules.next_revision()
    row.updated_at, row.updated_by = uow.clock.now(), actor
    uow.record(actor=actor, action="rule.changed", subject=f"rules/{row.name}", model=None,
               before={k: v for k, v in before.items() if k not in _UNAUDITED},
               after={k: v for k, v in changes.items() if k not in _UNAUDITED})
    return True


def add_rule(*, uow: UnitOfWork, spec: dict[str, Any], actor: str, python_targets: Collection[str]) -> dict[str, Any]:
    """Create a rule; raises PatternInvalid (naming the JSON path), InvalidInput (also for a python
    target outside `python_targets`, the allowed module prefixes), AlreadyExists."""
    rule = parse_rule(spec)
    check_python_targets(rule, python_targets)
    with uow:
        row = _insert(uow, rule, source="api", actor=actor)
        uow.commit()
        return rule_to_dict(row)


def list_rules(*, uow: UnitOfWork) -> list[dict[str, Any]]:
    """All rules by name, secrets redacted."""
    with uow:
        return [rule_to_dict(r) for r in uow.rules.list()]


def get_rule(*, uow: UnitOfWork, name: str) -> dict[str, Any]:
    """One rule, secrets redacted; raises NotFound."""
    with uow:
        return rule_to_dict(uow.rules.row(name))


def set_enabled(*, uow: UnitOfWork, name: str, enabled: bool, actor: str) -> dict[str, Any]:
    """Enable or disable a rule (its pending deliveries still run); raises NotFound."""
    with uow:
        row = uow.rules.row(name)
        if _update(uow, row, actor, enabled=enabled):
            uow.commit()
        return rule_to_dict(row)


def delete_rule(*, uow: UnitOfWork, name: str, actor: str) -> None:
    """Delete a rule (config rules come back at the next start); raises NotFound."""
    with uow:
        row = uow.rules.row(name)
        uow.rules.delete(row)
        uow.record(actor=actor, action="rule.deleted", subject=f"rules/{name}", model=None,
                   before=rule_to_dict(row))
        uow.commit()


def test_pattern(*, pattern: Any, event: Any) -> bool:
    """Whether `event` matches `pattern`; raises PatternInvalid (with the JSON path), InvalidInput."""
    return _test_pattern(pattern, event)


test_pattern.__dict__["__test__"] = False  # not a pytest test when a test module imports it


def sync_rules(*, uow: UnitOfWork, configured: list[dict[str, Any]], python_targets: Collection[str],
               defaults: list[dict[str, Any]] | None = None) -> list[str]:
    """Make the stored rules match the defaults and signoff.toml; returns the names it changed.

    A config rule with a default's name replaces it. A default keeps the `enabled` flag someone
    set with `signoff rules disable`; a config rule's flag is whatever the file says.
    """
    wanted: dict[str, tuple[Rule, str]] = {}
    for spec in DEFAULT_RULES if defaults is None else defaults:
        rule = parse_rule(spec)
        wanted[rule.name] = (rule, "default")
    for index, spec in enumerate(configured):
        try:
            rule = parse_rule(spec)
            check_python_targets(rule, python_targets)
        except InvalidInput as exc:
            field = exc.details.get("field")
            key = f"rules[{index}]" + (f".{field}" if field else "")
            raise type(exc)(f"config key {key}: {exc.message}", details={**exc.details, "key": key}) from None
        wanted[rule.name] = (rule, "config")
    changed: list[str] = []
    with uow:
        uow.rules.lock()
        rows = {r.name: r for r in uow.rules.list()}
        for name, (rule, source) in wanted.items():
            actor = CONFIG_ACTOR if source == "config" else DEFAULTS_ACTOR
            row = rows.get(name)
            if row is None:
                _insert(uow, rule, source=source, actor=actor)
                changed.append(name)
                continue
            if row.source == "api" and source == "default":
                continue  # someone made their own rule under this name; leave it alone
            changes: dict[str, Any] = {**_definition(rule), "source": source}
            if source == "config":
                changes["enabled"] = rule.enabled
            if _update(uow, row, actor, **changes):
                changed.append(name)
        for name, row in rows.items():
            if row.source in ("config", "default") and name not in wanted:
                uow.rules.delete(row)
                uow.record(actor=CONFIG_ACTOR, action="rule.deleted", subject=f"rules/{name}", model=None,
                           before=rule_to_dict(row))
                changed.append(name)
        if changed:
            uow.commit()
    return changed
