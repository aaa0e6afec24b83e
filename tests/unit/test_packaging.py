"""What the package imports is what it declares, and what it relies on is bounded.

An undeclared import works on a developer's machine (something else pulled it in) and breaks
for users; a declared but unused dependency is weight and attack surface for nothing.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Declared for what they do at run time without being imported by name.
RUNTIME_ONLY = {
    "tzdata": "zoneinfo's database where the OS has none (freeze windows)",
    "python-multipart": "FastAPI's form parsing (sign-in and review forms)",
    "pyarrow": "pandas' Parquet engine (inference batches)",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared(*extras: str) -> dict[str, str]:
    reqs = list(PYPROJECT["project"]["dependencies"])
    for extra in extras:
        reqs += PYPROJECT["project"]["optional-dependencies"][extra]
    return {_name(r): r for r in reqs}


def _imports() -> dict[str, set[str]]:
    """Third-party top-level modules imported by src/signoff -> the files importing them."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "signoff").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "signoff" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


class TestDeclaredDependencies:
    def test_every_imported_distribution_is_declared(self) -> None:
        # every runtime extra: the CLI, the server, inference, the demo, the MLflow flavor, offline
        # verification, PDF evidence packs
        declared = _declared("cli", "server", "inference", "demo", "mlflow", "verify", "evidence")
        dists = importlib.metadata.packages_distributions()
        missing = {module: sorted(files)[:3] for module, files in _imports().items()
                   if not any(_name(d) in declared for d in dists.get(module, [module]))}
        assert not missing, f"imported but not declared in pyproject.toml: {missing}"

    def test_every_declared_distribution_is_used(self) -> None:
        dists = importlib.metadata.packages_distributions()
        imported = {_name(d) for module in _imports() for d in dists.get(module, [module])}
        unused = sorted(set(_declared("cli", "server", "inference")) - imported - set(RUNTIME_ONLY) - {"signoff"})
        assert not unused, f"declared but never imported (nor listed in RUNTIME_ONLY with a reason): {unused}"

    def test_the_base_install_is_the_client_only(self) -> None:
        assert set(_declared()) == {"httpx", "pydantic"}

    def test_the_heavy_stacks_stay_out_of_the_cli_and_server_extras(self) -> None:
        for extra in ("cli", "server"):
            heavy = {"scikit-learn", "pandas", "pyarrow", "onnxruntime", "joblib"} & set(_declared(extra))
            assert not heavy, (extra, heavy)
        assert "signoff" not in _declared("inference"), "inference runs with a remote client: no server stack"

    def test_the_missing_extra_table_names_an_extra_that_declares_each_module(self) -> None:
        from signoff._extras import _EXTRA_OF

        dists = importlib.metadata.packages_distributions()
        wrong = {}
        for module, extra in _EXTRA_OF.items():
            declared = _declared(extra)
            for ref in [r for r in declared.values() if _name(r) == "signoff"]:  # signoff[cli] inside server
                for inner in re.search(r"\[(.*)\]", ref).group(1).split(","):  # type: ignore[union-attr]
                    declared |= _declared(inner.strip())
            names = dists.get(module)
            if names and not any(_name(d) in declared for d in names):
                wrong[module] = (extra, names)
        assert not wrong, f"modules the table sends to an extra that does not bring them: {wrong}"

    def test_import_signoff_and_a_remote_client_load_no_extra(self) -> None:
        """What `pip install signoff` must be enough for (.ci/wheel-check proves it in a bare venv)."""
        import subprocess

        from signoff._extras import _EXTRA_OF

        # httpx itself imports click and rich when they are installed (its optional CLI).
        watched = sorted(set(_EXTRA_OF) - {"rich"})
        code = ("import sys, signoff; c = signoff.Client('http://127.0.0.1:9', 't'); c.close(); "
                f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({watched!r})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "[]", out.stdout


class TestBounds:
    def test_sqlalchemy_is_bounded_to_the_minor_series_prepared_statements_were_written_for(self) -> None:
        spec = _declared("server")["sqlalchemy"]
        assert "<" in spec, spec
        installed = importlib.metadata.version("sqlalchemy")
        from packaging.requirements import Requirement

        assert Requirement(spec).specifier.contains(installed), (spec, installed)

    def test_the_build_backend_understands_spdx_licence_expressions(self) -> None:
        from packaging.requirements import Requirement

        backend = next(Requirement(r) for r in PYPROJECT["build-system"]["requires"] if _name(r) == "setuptools")
        assert not backend.specifier.contains("76.9"), backend  # PEP 639 fields need setuptools 77
        assert PYPROJECT["project"]["license"] == "Apache-2.0"

    def test_the_licence_file_is_shipped(self) -> None:
        text = (ROOT / "LICENSE").read_text()
        assert "Apache License" in text and "Version 2.0, January 2004" in text
        assert "END OF TERMS AND CONDITIONS" in text
        assert "LICENSE" in PYPROJECT["project"]["license-files"]
