"""`signoff.__all__` lists exactly the public names the package exports (as HTTPX checks its own)."""

from __future__ import annotations

import signoff
import signoff.errors


def test_all_public_members_are_exported_and_every_export_exists() -> None:
    public = {name for name in dir(signoff) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(signoff, name)).__name__ == "module"}
    assert public - modules == set(signoff.__all__) - {"__version__"}
    assert all(hasattr(signoff, name) for name in signoff.__all__)


def test_every_error_class_is_exported_from_the_top_level() -> None:
    errors = {name for name in signoff.errors.__all__ if name[0].isupper()}
    assert errors <= set(signoff.__all__)


def test_all_is_sorted_so_additions_are_easy_to_review() -> None:
    assert list(signoff.__all__) == sorted(signoff.__all__, key=lambda n: (n.startswith("_"), n))
