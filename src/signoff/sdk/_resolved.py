"""What `client.resolve(model, env)` returns: the live version, and `.load()` to run it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signoff.sdk._records import Record

MismatchHook = Callable[["Resolved", Exception], None]


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "signoff-artifacts"


class Resolved(Record):
    """A resolved version (a Record) that can load its artifact, verified against its digest."""

    def __init__(self, data: dict[str, Any], *, cache_dir: str | Path | None = None,
                 on_mismatch: MismatchHook | None = None) -> None:
        super().__init__(data)
        self._cache_dir = cache_dir
        self._on_mismatch = on_mismatch

    def load(self, *, flavor: str | None = None, cache_dir: str | Path | None = None) -> Any:
        """The model, ready to `predict`; raises ArtifactMismatch if its bytes are not the approved ones.

        Needs `signoff[server]` (the frameworks) installed where it runs. The result wraps the
        framework's object (`.model` for scikit-learn and MLflow, `.session` for ONNX) behind
        `predict(frame)` and `predict_proba(frame)`.
        """
        from signoff.adapters import artifacts, flavors
        from signoff.errors import ArtifactMismatch

        where = cache_dir or self._cache_dir or default_cache_dir()
        try:
            path = artifacts.fetch(self["artifact_uri"], self.get("digest"), cache_dir=where,
                                   label=f"the artifact of version {self['version']} of {self['model']!r}")
        except ArtifactMismatch as exc:
            if self._on_mismatch is not None:
                self._on_mismatch(self, exc)
            raise
        return flavors.load(path, flavor or self.get("flavor"))
