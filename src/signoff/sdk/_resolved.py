"""What `client.resolve(model, env)` returns: the live version, and `.load()` to run it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from signoff.sdk._records import LivePublic

MismatchHook = Callable[["Resolved", Exception], None]


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "signoff-artifacts"


class Resolved(LivePublic):
    """A resolved version (the live version's record) that can load its artifact, verified against its digest."""

    _cache_dir: str | Path | None = PrivateAttr(default=None)
    _on_mismatch: MismatchHook | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, data: Any, *, cache_dir: str | Path | None = None,
           on_mismatch: MismatchHook | None = None) -> Resolved:
        """The live version `data` (a mapping, as either transport reads it) ready to `load()`."""
        live = cls.model_validate(dict(data))
        live._cache_dir = cache_dir
        live._on_mismatch = on_mismatch
        return live

    def load(self, *, flavor: str | None = None, cache_dir: str | Path | None = None) -> Any:
        """The model, ready to `predict`; raises ArtifactMismatch if its bytes are not the approved ones.

        Needs `signoff[inference]` (the frameworks) installed where it runs; without it, raises
        ImportError naming that extra. The result wraps the
        framework's object (`.model` for scikit-learn and MLflow, `.session` for ONNX) behind
        `predict(frame)` and `predict_proba(frame)`.
        """
        from signoff._extras import missing_extra
        from signoff.adapters import artifacts, flavors
        from signoff.errors import ArtifactMismatch

        where = cache_dir or self._cache_dir or default_cache_dir()
        try:
            path = artifacts.fetch(self["artifact_uri"], self.get("digest"), cache_dir=where,
                                   label=f"the artifact of version {self['version']} of {self['model']!r}")
            return flavors.load(path, flavor or self.get("flavor"))
        except ArtifactMismatch as exc:
            if self._on_mismatch is not None:
                self._on_mismatch(self, exc)
            raise
        except ImportError as exc:
            raise (missing_extra(exc, "loading a model") or exc) from None
