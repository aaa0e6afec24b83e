"""`signoff rules`: list, show, add, enable/disable, and test EventBridge patterns."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from signoff.entrypoints.cli._common import AS_OPTION, JSON_OPTION, client, console, print_json
from signoff.errors import InvalidInput

rules_app = typer.Typer(help="Event rules: an EventBridge pattern and the targets of matching events.",
                        no_args_is_help=True)


def load_json(value: str, what: str) -> Any:
    """JSON given inline, as `@path`, or as the path of a .json/.toml file."""
    text, origin = value, what
    path = Path(value.removeprefix("@"))
    if value.startswith("@") or (not value.lstrip().startswith(("{", "[")) and path.exists()):
        try:
            text, origin = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise InvalidInput(f"cannot read {what} file {path}: {exc.strerror}", details={"field": what}) from None
        if path.suffix == ".toml":
            try:
                return tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise InvalidInput(f"{origin}: {exc}", details={"field": what}) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"{origin} is not valid JSON: {exc}", details={"field": what}) from None


def _targets_text(targets: list[dict[str, Any]]) -> str:
    out = []
    for t in targets:
        from_env = f"${t['url_env']}" if t.get("url_env") else None
        detail = t.get("url") or from_env or t.get("function") or t.get("env") or ",".join(t.get("to", []))
        out.append(f"{t['type']}({detail})" if detail else t["type"])
    return ", ".join(out)


@rules_app.command("list")
def rules_list(as_json: bool = JSON_OPTION) -> None:
    """All rules by name."""
    with client() as c:
        rules = c.rules()
    if as_json:
        print_json(rules)
        return
    table = Table("name", "enabled", "source", "pattern", "targets")
    for r in rules:
        table.add_row(r["name"], "yes" if r["enabled"] else "[red]no[/]", r["source"],
                      json.dumps(r["pattern"], separators=(",", ":")), _targets_text(r["targets"]))
    console.print(table)


@rules_app.command("show")
def rules_show(name: str, as_json: bool = JSON_OPTION) -> None:
    """One rule (secrets redacted)."""
    with client() as c:
        r = c.rule(name)
    if as_json:
        print_json(r)
        return
    console.print(f"[bold]{r['name']}[/] ({'enabled' if r['enabled'] else 'disabled'}, from {r['source']})")
    if r["description"]:
        console.print(f"  {r['description']}")
    console.print("  pattern: " + json.dumps(r["pattern"], indent=2).replace("\n", "\n  "), markup=False)
    for i, t in enumerate(r["targets"]):
        console.print(f"  target {i}: " + json.dumps(t), markup=False)


@rules_app.command("add")
def rules_add(
    name: Optional[str] = typer.Argument(None, help="Rule name (a-z 0-9 . _ -); or give --file."),
    pattern: Optional[str] = typer.Option(None, "--pattern", help="Event pattern: JSON, @file or a file path."),
    target: Optional[list[str]] = typer.Option(None, "--target", help="Target as JSON (repeatable)."),
    description: str = typer.Option("", "--description"),
    disabled: bool = typer.Option(False, "--disabled", help="Store it disabled."),
    file: Optional[str] = typer.Option(None, "--file", help="The whole rule as a JSON or TOML file."),
    actor: Optional[str] = AS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a rule; an invalid pattern is refused with the JSON path of the fault."""
    spec: dict[str, Any] = load_json(f"@{file}", "rule") if file else {}
    if not isinstance(spec, dict):
        raise InvalidInput("a rule file must hold one object", details={"field": "rule"})
    if name:
        spec["name"] = name
    if pattern is not None:
        spec["pattern"] = load_json(pattern, "pattern")
    if target:
        spec["targets"] = [load_json(t, "target") for t in target]
    if description:
        spec["description"] = description
    if disabled:
        spec["enabled"] = False
    if not spec.get("name"):
        raise InvalidInput("a rule needs a name", details={"field": "name"})
    with client(actor) as c:
        # A rule file may lack either: refused downstream, naming the field, by either transport.
        r = c.add_rule(spec["name"], spec.get("pattern"), spec.get("targets"),  # type: ignore[arg-type]
                       description=spec.get("description", ""), enabled=spec.get("enabled", True))
    if as_json:
        print_json(r)
    else:
        console.print(f"added rule [bold]{r['name']}[/] → {_targets_text(r['targets'])}")


def _set_enabled(name: str, enabled: bool, actor: str | None, as_json: bool) -> None:
    with client(actor) as c:
        r = c.set_rule_enabled(name, enabled)
    if as_json:
        print_json(r)
    else:
        console.print(f"rule {r['name']} {'enabled' if r['enabled'] else 'disabled'}")


@rules_app.command("disable")
def rules_disable(name: str, actor: Optional[str] = AS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Stop matching new events against a rule (its queued deliveries still run)."""
    _set_enabled(name, False, actor, as_json)


@rules_app.command("enable")
def rules_enable(name: str, actor: Optional[str] = AS_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Match new events against a rule again."""
    _set_enabled(name, True, actor, as_json)


@rules_app.command("test")
def rules_test(
    pattern: str = typer.Argument(..., help="PATTERN.json (or inline JSON)."),
    event: str = typer.Argument(..., help="EVENT.json (or inline JSON)."),
) -> None:
    """Print `match` (exit 0) or `no match` (exit 1); an invalid pattern exits 2 naming its path."""
    from signoff.domain.rules import test_pattern

    if test_pattern(load_json(pattern, "pattern"), load_json(event, "event")):
        typer.echo("match")
        return
    typer.echo("no match")
    raise typer.Exit(1)
