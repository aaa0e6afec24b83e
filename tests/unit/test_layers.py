"""The layers of CONTRIBUTING.md, checked: dependencies point inwards.

Imports under `if TYPE_CHECKING:` are left out (annotations only, nothing runs); every other
import counts, at any level of the module, because a function-level import is a dependency too.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# layer → the packages it must not import
RULES = {
    "signoff.domain": ("signoff.services", "signoff.adapters", "signoff.entrypoints", "signoff.bootstrap",
                       "signoff.config", "signoff.demo"),
    "signoff.services": ("signoff.adapters", "signoff.entrypoints", "signoff.bootstrap", "signoff.config",
                         "signoff.demo"),
    "signoff.adapters": ("signoff.entrypoints", "signoff.bootstrap", "signoff.demo"),
    "signoff.bootstrap": ("signoff.entrypoints", "signoff.demo"),
    "signoff.sdk": ("signoff.entrypoints", "signoff.demo", "signoff.adapters.db"),
}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, package: str) -> set[str]:
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(stem + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _violations() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in sorted((SRC / "signoff").rglob("*.py")):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for layer, banned in RULES.items():
            if name != layer and not name.startswith(layer + "."):
                continue
            bad = sorted(i for i in _imports(ast.parse(path.read_text(encoding="utf-8")), package)
                         if any(i == b or i.startswith(b + ".") for b in banned))
            if bad:
                out[name] = bad
    return out


class TestLayers:
    def test_the_checker_sees_a_function_level_import_and_skips_type_checking_ones(self) -> None:
        tree = ast.parse("from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from signoff.adapters.db import tables\n"
                         "def f():\n    from signoff.adapters import smtp\n")
        found = _imports(tree, "signoff.services")
        assert "signoff.adapters.smtp" in found and "signoff.adapters.db.tables" not in found

    def test_every_import_points_inwards(self) -> None:
        assert _violations() == {}

    def test_no_service_reaches_for_the_database_session(self) -> None:
        # Services see storage through the repositories of services/repositories.py only.
        reaching = [str(p.relative_to(SRC)) for p in (SRC / "signoff" / "services").rglob("*.py")
                    if "uow.session" in p.read_text(encoding="utf-8")]
        assert reaching == []
