"""The server's Ed25519 signing keys, kept outside the database.

Where the key comes from, first match wins: `SIGNOFF_SIGNING__KEY` (the key file's JSON, or
one PEM private key), `[signing] key_file`, else `<home>/signing-key.json`, which is created on
first use (mode 0600) the way SSH creates host keys. A configured key that cannot be read stops
the process: signing with a surprise key would make every later signature unverifiable.

The key file holds the active private key and the public halves of retired keys with their
validity, so rotation keeps old signatures verifiable while no process can sign with a retired
key. Running processes notice a rotated file within a second.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signoff.errors import AlreadyExists, InvalidInput, VerificationFailed
from signoff.sdk._attest import PublicKey, key_id, parse_time, sign_envelope

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FORMAT = "signoff-keys/v1"
DEFAULT_FILE = "signing-key.json"
ENV_VAR = "SIGNOFF_SIGNING__KEY"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Loaded:
    active: Ed25519PrivateKey
    keyid: str
    keys: list[PublicKey]


class KeyRing:
    """The signer port: signs with the active key; publishes every key, retired ones included."""

    def __init__(self, loaded: _Loaded, *, source: str, path: Path | None = None) -> None:
        self._loaded = loaded
        self.source = source
        self.path = path
        self._mtime = _mtime(path) if path else None
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @property
    def keyid(self) -> str:
        return self._current().keyid

    def _current(self) -> _Loaded:
        if self.path is not None and time.monotonic() - self._checked > 1.0:
            with self._lock:
                self._checked = time.monotonic()
                mtime = _mtime(self.path)
                if mtime != self._mtime:  # rotated by `signoff keys rotate` in another process
                    self._loaded, self._mtime = _parse(self.path.read_text(encoding="utf-8"), str(self.path)), mtime
        return self._loaded

    def sign(self, data: bytes) -> bytes:
        return self._current().active.sign(data)

    def envelope(self, payload_type: str, body: bytes) -> dict[str, Any]:
        """A DSSE envelope over body signed with the active key."""
        loaded = self._current()
        return sign_envelope(payload_type, body, keyid=loaded.keyid, sign=loaded.active.sign)

    def public_keys(self) -> list[PublicKey]:
        return list(self._current().keys)

    def public_keyset(self) -> dict[str, Any]:
        """The JSON a verifier trusts (`signoff keys export-public`, `/.well-known/signoff-keys.json`)."""
        loaded = self._current()
        return {"format": FORMAT, "active": loaded.keyid, "keys": [k.to_dict() for k in loaded.keys]}


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None


def default_path(home: Path) -> Path:
    return Path(home) / DEFAULT_FILE


def load_keyring(*, key: str | None, key_file: Path | None, home: Path, now: datetime,
                 say: Callable[[str], None] | None = None) -> KeyRing:
    """The key ring from the configured source, creating the default file on first use.

    Raises InvalidInput (one line naming the source) when a configured key cannot be read.
    """
    if key:
        return KeyRing(_parse(key, ENV_VAR), source=ENV_VAR)
    if key_file is not None:
        path = Path(key_file).expanduser()
        return KeyRing(_read(path), source=str(path), path=path)
    path = default_path(home)
    if not path.exists():
        try:
            keyid = write_new(path, now)
        except AlreadyExists:
            pass  # another process created it a moment ago: use theirs
        else:
            (say or _stderr)(f"signoff: created signing key {path} (key id {keyid[:16]}); "
                             "keep a copy, and give verifiers `signoff keys export-public`")
    return KeyRing(_read(path), source=str(path), path=path)


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


def _read(path: Path) -> _Loaded:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read the signing key file {path}: {exc.strerror}",
                           details={"key": "signing.key_file", "path": str(path)}) from None
    return _parse(text, str(path))


def _parse(text: str, source: str) -> _Loaded:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"cannot read the signing key from {source}: {why}", details={"source": source})

    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            private = load_pem_private_key(stripped.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise bad(str(exc).splitlines()[0] if str(exc) else "not a PEM private key") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise bad("the PEM key is not an Ed25519 key")
        public = _raw_public(private)
        keyid = key_id(public)
        return _Loaded(private, keyid, [PublicKey(keyid, public, _EPOCH)])
    try:
        data = json.loads(stripped)
        entries = data["keys"]
        if data.get("format") != FORMAT or not isinstance(entries, list):
            raise bad(f"not a {FORMAT} key file")
        keys, active = [], None
        for entry in entries:
            public = bytes.fromhex(entry["public"])
            keyid = key_id(public)
            not_after = entry.get("not_after")
            keys.append(PublicKey(keyid, public, parse_time(entry["not_before"], "not_before"),
                                  parse_time(not_after, "not_after") if not_after else None))
            if entry.get("private") and not not_after:
                private = load_pem_private_key(entry["private"].encode(), password=None)
                if not isinstance(private, Ed25519PrivateKey) or _raw_public(private) != public:
                    raise bad(f"the private key of {keyid[:16]} does not match its public key")
                active = _Loaded(private, keyid, keys)
    except InvalidInput:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, VerificationFailed):
        raise bad("malformed key file") from None
    if active is None:
        raise bad("no active private key (every key is retired)")
    return active


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _new_entry(now: datetime) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return {"public": _raw_public(private).hex(), "private": pem, "not_before": _iso(now), "not_after": None}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _write_private(path: Path, data: dict[str, Any], *, replace: bool) -> None:
    """Write mode 0600 through a temporary file: readers never see half a key file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".signing-key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic and refuses an existing file (two first starts at once)
            except FileExistsError:
                raise AlreadyExists(f"signing key file {path} already exists", details={"path": str(path)}) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_new(path: Path, now: datetime) -> str:
    """Create a key file with one fresh key; raises AlreadyExists. Returns the key id."""
    entry = _new_entry(now)
    _write_private(path, {"format": FORMAT, "keys": [entry]}, replace=False)
    return key_id(bytes.fromhex(entry["public"]))


def rotate(path: Path, now: datetime) -> tuple[str, str]:
    """Retire the active key (its private half is dropped) and add a new one; returns (old, new) ids."""
    _read(path)  # refuse to rewrite a file that does not load
    data = json.loads(path.read_text(encoding="utf-8"))
    old = ""
    for entry in data["keys"]:
        if entry.get("private") and not entry.get("not_after"):
            entry["not_after"] = _iso(now)
            entry.pop("private")
            old = key_id(bytes.fromhex(entry["public"]))
    new = _new_entry(now)
    data["keys"].append(new)
    _write_private(path, data, replace=True)
    return old, key_id(bytes.fromhex(new["public"]))
