"""No import cycles anywhere in the package, and none through the client side (the SDK, the CLI
and the package's front door) in particular.

A cycle hidden in a function-level import (two command modules borrowing each other's helpers)
works until someone moves an import to the top; the graph here counts imports at every level.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
CLIENT_SIDE = ("signoff", "signoff._extras", "signoff.__main__", "signoff.sdk", "signoff.entrypoints.cli")


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "signoff").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    stem = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(stem + ([base] if base else []))
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                # `from pkg import submodule` depends on the submodule; `from pkg import name` on pkg.
                targets = subs if len(subs) == len(node.names) else [base, *subs]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _client_side(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") and root != "signoff" for root in CLIENT_SIDE)


class TestImportCycles:
    def test_the_finder_sees_a_cycle_in_function_level_imports(self) -> None:
        graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
        assert _cycles(graph) == [["a", "b"]]

    def test_no_cycle_runs_through_the_sdk_or_the_cli(self) -> None:
        cycles = [c for c in _cycles(_graph(_modules())) if any(_client_side(m) for m in c)]
        assert not cycles, f"import cycles through the client side: {cycles}"

    def test_no_cycle_anywhere_in_the_package(self) -> None:
        # Two modules that need each other are one module split in the wrong place (the artifact
        # store and flavor detection shared a helper; accounts and people shared end_access).
        cycles = _cycles(_graph(_modules()))
        assert not cycles, f"import cycles: {cycles}"
