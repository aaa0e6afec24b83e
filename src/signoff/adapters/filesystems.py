"""fsspec filesystems for local paths and URLs, shared by the artifact store and flavor detection
(both read artifacts where they live; neither should import the other for it)."""

from __future__ import annotations

from typing import Any

from signoff.errors import InvalidInput


def filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem and path for a local path or URL; a missing driver is InvalidInput."""
    import fsspec

    try:
        found: tuple[Any, str] = fsspec.core.url_to_fs(uri)  # fsspec ships no types
        return found
    except (ImportError, ValueError) as exc:
        raise InvalidInput(f"cannot open {uri!r}: {exc}", details={"uri": uri}) from None


def is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)
