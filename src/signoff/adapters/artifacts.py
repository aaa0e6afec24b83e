"""Content-addressed artifact store on the local disk or any fsspec URL (s3://, gs://, memory://).

An approval is bound to the bytes the approver saw, so every artifact is identified by its
SHA-256 digest and stored under ``ROOT/sha256/HEX/NAME``. A file's digest is the hash of its
bytes; a directory's (an MLflow model, say) is the hash of its sorted manifest of
``relative/path\\0file-digest`` lines, so it does not depend on listing order, timestamps or the
filesystem. Empty directories carry no content and are not part of the digest.

Loading goes through :func:`fetch`, which hashes what will actually be loaded (a remote artifact
is first copied into a local cache) and refuses a mismatch with ``ArtifactMismatch``. The hash
and the load are two reads of a local file: whoever can swap a file between them can also swap
the Python process, so that window is not defended.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from signoff.errors import ArtifactMismatch, InvalidInput, NotFound

PREFIX = "sha256:"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredArtifact:
    uri: str
    digest: str
    kind: Literal["file", "directory"]
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "digest": self.digest, "kind": self.kind, "size": self.size}


def filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem and path for a local path or URL; a missing driver is InvalidInput."""
    import fsspec

    try:
        found: tuple[Any, str] = fsspec.core.url_to_fs(uri)  # fsspec ships no types
        return found
    except (ImportError, ValueError) as exc:
        raise InvalidInput(f"cannot open {uri!r}: {exc}", details={"uri": uri}) from None


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _hash_stream(stream: Any, sink: Any = None) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        h.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return h.hexdigest(), size


def _manifest_digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]}\n".encode())
    return h.hexdigest()


def _walk(fs: Any, path: str) -> list[tuple[str, str]]:
    """(absolute, relative posix path) of every file under a directory."""
    base = path.rstrip("/")
    out = []
    for found in fs.find(base, withdirs=False, detail=False):
        rel = posixpath.relpath(found, base)
        out.append((found, rel))
    return out


def digest_of(uri: str) -> str:
    """``sha256:HEX`` of a file or directory at a path or URL; raises NotFound, InvalidInput."""
    fs, path = filesystem(uri)
    if not fs.exists(path):
        raise NotFound(f"artifact {uri!r} not found", details={"uri": uri})
    if fs.isdir(path):
        files = {}
        for full, rel in _walk(fs, path):
            with fs.open(full, "rb") as f:
                files[rel] = _hash_stream(f)[0]
        return PREFIX + _manifest_digest(files)
    with fs.open(path, "rb") as f:
        return PREFIX + _hash_stream(f)[0]


def exists(uri: str) -> bool:
    """Whether a path or URL can be read here (False when its fsspec driver is not installed)."""
    try:
        fs, path = filesystem(uri)
        return bool(fs.exists(path))
    except (InvalidInput, OSError):
        return False


class ArtifactStore:
    """Copies artifacts under a root, named by digest, and hands back their URI and digest."""

    def __init__(self, root: str) -> None:
        if "://" not in root:
            root = os.path.abspath(root)
        self.root = root.rstrip("/")
        self.fs, self.root_path = filesystem(self.root)

    def put(self, source: str) -> StoredArtifact:
        """Store a file or directory (path or URL); raises NotFound, InvalidInput."""
        src_fs, src_path = filesystem(source)
        if not src_fs.exists(src_path):
            raise NotFound(f"artifact {source!r} not found", details={"uri": source})
        name = posixpath.basename(src_path.rstrip("/")) or "artifact"
        staging = f"{self.root_path}/tmp/{uuid.uuid4().hex}"
        self.fs.makedirs(staging, exist_ok=True)
        try:
            if src_fs.isdir(src_path):
                kind: Literal["file", "directory"] = "directory"
                hexdigest, size = self._copy_dir(src_fs, src_path, f"{staging}/{name}")
            else:
                kind = "file"
                with src_fs.open(src_path, "rb") as src, self.fs.open(f"{staging}/{name}", "wb") as dst:
                    hexdigest, size = _hash_stream(src, dst)
            final_dir = f"{self.root_path}/sha256/{hexdigest}"
            existing = self._existing(final_dir)
            if existing is None:
                self.fs.makedirs(final_dir, exist_ok=True)
                self.fs.mv(f"{staging}/{name}", f"{final_dir}/{name}", recursive=kind == "directory")
                existing = f"{final_dir}/{name}"
        finally:
            if self.fs.exists(staging):
                self.fs.rm(staging, recursive=True)
        return StoredArtifact(self.fs.unstrip_protocol(existing), PREFIX + hexdigest, kind, size)

    def _copy_dir(self, src_fs: Any, src_path: str, dst_path: str) -> tuple[str, int]:
        files: dict[str, str] = {}
        total = 0
        self.fs.makedirs(dst_path, exist_ok=True)
        for full, rel in _walk(src_fs, src_path):
            target = f"{dst_path}/{rel}"
            self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
            with src_fs.open(full, "rb") as src, self.fs.open(target, "wb") as dst:
                files[rel], size = _hash_stream(src, dst)
            total += size
        return _manifest_digest(files), total

    def _existing(self, final_dir: str) -> str | None:
        """The same content stored before (content addressing: store once, whatever its name)."""
        if not self.fs.exists(final_dir):
            return None
        entries = sorted(self.fs.ls(final_dir, detail=False))
        return str(entries[0]) if entries else None


def fetch(uri: str, expected: str | None, *, cache_dir: str | Path, label: str = "artifact") -> Path:
    """A local path to the artifact whose bytes hash to ``expected``; raises ArtifactMismatch.

    Local artifacts are hashed in place; remote ones are copied into ``cache_dir`` (once per
    digest) and the copy is hashed on every fetch, so a tampered cache is caught too.
    """
    if not expected:
        raise ArtifactMismatch(
            f"{label} has no recorded digest, so what was approved cannot be checked; "
            "register it with a stored artifact (signoff register --artifact PATH)",
            details={"uri": uri, "expected_digest": None, "digest": None},
        )
    fs, path = filesystem(uri)
    if _is_local(fs):
        local = Path(path)
    else:
        hexdigest = expected.removeprefix(PREFIX)
        local = Path(cache_dir) / "sha256" / hexdigest / (posixpath.basename(path.rstrip("/")) or "artifact")
        if not local.exists():
            _download(fs, path, local, uri)
    actual = digest_of(str(local)) if local.exists() else None
    if actual != expected:
        found = "is missing" if actual is None else f"has digest {actual}"
        raise ArtifactMismatch(
            f"{label} at {uri} {found}, but {expected} was registered and approved; refusing to load it",
            details={"uri": uri, "expected_digest": expected, "digest": actual},
        )
    return local


def _download(fs: Any, path: str, local: Path, uri: str) -> None:
    if not fs.exists(path):
        return  # reported as missing by the digest check
    staging = local.parent / f".tmp-{uuid.uuid4().hex}"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        target = staging / local.name
        if fs.isdir(path):
            for full, rel in _walk(fs, path):
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with fs.open(full, "rb") as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
        else:
            with fs.open(path, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
        try:
            target.rename(local)
        except OSError:
            pass  # another process cached it first; its copy is hashed like ours would be
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class ArtifactFiles:
    """The artifact port (services/ports.py ArtifactReader): digests, existence and flavors."""

    def digest_of(self, uri: str) -> str:
        return digest_of(uri)

    def exists(self, uri: str) -> bool:
        return exists(uri)

    def check_flavor(self, flavor: str | None) -> str | None:
        from signoff.adapters import flavors

        return flavors.check_flavor(flavor)

    def detect_flavor(self, uri: str) -> str:
        from signoff.adapters import flavors

        return flavors.detect(uri)
