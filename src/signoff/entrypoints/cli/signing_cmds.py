"""Signing keys, attestations and the offline verifier: `signoff keys`, `attestation`, `verify`,
`audit checkpoint`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.table import Table

from signoff.entrypoints.cli import _common
from signoff.entrypoints.cli._common import JSON_OPTION, client, console, print_json
from signoff.errors import InvalidInput, NotFound, VerificationFailed

if TYPE_CHECKING:  # the server side is imported when a command runs, not with the CLI
    from signoff.adapters.keys import KeyRing
    from signoff.config import Settings

keys_app = typer.Typer(help="The server's Ed25519 signing keys (kept outside the database).", no_args_is_help=True)
# Top-level commands (attestation, verify, evidence), merged into `signoff` itself (cli/__init__.py).
signing_app = typer.Typer()


def _settings() -> Settings:
    from signoff.config import load_settings

    overrides = {"database_url": _common.state.database_url} if _common.state.database_url else {}
    return load_settings(_common.state.config, **overrides)


def _key_path() -> Path:
    """The key file `keys init/rotate` write: `[signing] key_file` or the default under the home."""
    from signoff.adapters.keys import ENV_VAR, default_path

    settings = _settings()
    if settings.signing.key is not None:
        raise InvalidInput(f"the signing key comes from {ENV_VAR}; change it where that variable is kept, "
                           "or use a key file ([signing] key_file)")
    return Path(settings.signing.key_file).expanduser() if settings.signing.key_file else default_path(settings.home)


def _now() -> datetime:
    return datetime.now(UTC)


@keys_app.command("init")
def keys_init() -> None:
    """Create the key file with a new Ed25519 key (mode 0600); refuses to overwrite one."""
    from signoff.adapters.keys import write_new

    path = _key_path()
    keyid = write_new(path, _now())
    console.print(f"created signing key {path} (key id {keyid})")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Retire the active key (its public half stays published) and start signing with a new one."""
    from signoff.adapters.keys import rotate

    path = _key_path()
    if not path.exists():
        raise NotFound(f"no signing key file at {path}: run `signoff keys init`", details={"path": str(path)})
    old, new = rotate(path, _now())
    console.print(f"retired key {old}; now signing with {new} ({path})")


def _keyring() -> KeyRing:
    from signoff.adapters.keys import default_path, load_keyring

    settings = _settings()
    s = settings.signing
    if s.key is None and s.key_file is None and not default_path(settings.home).exists():
        raise NotFound(f"no signing key yet (it is created by `signoff keys init`, `signoff db upgrade` or the "
                       f"first start) under {settings.home}")
    return load_keyring(key=s.key.get_secret_value() if s.key else None, key_file=s.key_file,
                        home=settings.home, now=_now())


@keys_app.command("list")
def keys_list(as_json: bool = JSON_OPTION) -> None:
    """Every key with its id and validity; the active one signs."""
    ring = _keyring()
    keyset = ring.public_keyset()
    if as_json:
        print_json(keyset)
        return
    table = Table("key id", "valid from", "valid until", "active", title=ring.source, title_justify="left")
    for key in keyset["keys"]:
        table.add_row(key["keyid"], key["not_before"], key["not_after"] or "-", "yes" if key["keyid"] == keyset["active"] else "")
    console.print(table)


@keys_app.command("export-public")
def keys_export_public() -> None:
    """Print the public key set as JSON on stdout: what `signoff verify --keys` trusts."""
    typer.echo(json.dumps(_keyring().public_keyset(), indent=2, sort_keys=True))


@signing_app.command("attestation")
def attestation(model: str, version: int, env: str = typer.Option(..., "--env", help="Environment.")) -> None:
    """Print the newest deployment attestation (DSSE envelope JSON) of MODEL VERSION in ENV."""
    with client() as c:
        envelope = c.attestation(model, version, env)
    typer.echo(json.dumps(envelope, indent=2, sort_keys=True))


@signing_app.command("verify")
def verify(
    attestation_file: Optional[Path] = typer.Argument(None, metavar="[ATTESTATION]", help="The DSSE envelope (JSON file)."),
    artifact: Optional[str] = typer.Option(None, "--artifact", help="The artifact's bytes: a path or an http(s) URL."),
    env: Optional[str] = typer.Option(None, "--env", help="The environment you are deploying to."),
    keys: Optional[Path] = typer.Option(None, "--keys", help="The trusted public key set (`signoff keys export-public`)."),
    revocations: Optional[Path] = typer.Option(None, "--revocations", help="The signed revocation list (`signoff revocations`)."),
    evidence: Optional[Path] = typer.Option(None, "--evidence", help="Check an evidence pack (JSON) instead."),
) -> None:
    """Check an attestation (or with --evidence, an evidence pack) offline: no server, no database.
    Exit 0 if it holds, 1 with the reason if not."""
    from signoff.sdk._attest import verify_attestation
    from signoff.sdk._evidence import verify_evidence

    try:
        if evidence is not None:
            summary = verify_evidence(evidence, keys=keys)
            typer.echo(f"ok: evidence pack holds ({summary['attestations']} attestations, {summary['signatures']} "
                       f"signatures, {summary['audit_entries']} audit entries; keys: {summary['keys']})")
            return
        if attestation_file is None or artifact is None or env is None or keys is None:
            raise InvalidInput("verify needs ATTESTATION --artifact --env --keys (or --evidence FILE)")
        statement = verify_attestation(attestation_file, artifact=artifact, env=env, keys=keys,
                                       revocations=revocations)
    except VerificationFailed as exc:
        typer.echo(f"refused: {exc.message}", err=True)
        raise typer.Exit(1) from None
    subject = statement["subject"][0]
    notes = subject.get("annotations") or {}
    typer.echo(f"ok: {notes.get('model', subject.get('name'))} version {notes.get('version', '?')} "
               f"(sha256 {subject['digest']['sha256'][:16]}…) is signed off for {env}")


@signing_app.command("evidence")
def evidence(
    model: str,
    version: int,
    fmt: str = typer.Option("html", "--format", help="html, json or pdf."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="File to write (default: stdout for html/json)."),
) -> None:
    """The evidence pack of MODEL VERSION: requests, evidence, signatures, live history, audit, attestations, keys."""
    from signoff.services.evidence_pack import render_html, render_pdf

    if fmt not in ("html", "json", "pdf"):
        raise InvalidInput(f"--format must be html, json or pdf, not {fmt!r}")
    if fmt == "pdf" and output is None:
        raise InvalidInput("a PDF needs -o FILE")
    with client() as c:
        pack = c.evidence(model, version)
    if fmt == "json":
        data: bytes = (json.dumps(pack, indent=2, sort_keys=True) + "\n").encode()
    elif fmt == "html":
        data = render_html(pack).encode()
    else:
        data = render_pdf(pack)
    if output is None:
        typer.echo(data.decode(), nl=False)
    else:
        output.write_bytes(data)
        console.print(f"wrote {output} ({len(data)} bytes)")


@signing_app.command("revocations")
def revocations(
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="File to write (default: stdout)."),
) -> None:
    """The signed revocation list (DSSE envelope JSON): what `signoff verify --revocations` checks offline."""
    with client() as c:
        envelope = c.revocations()
    text = json.dumps(envelope, indent=2, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}")


def audit_checkpoint() -> None:
    """Sign a checkpoint of the audit chain's head and print it (JSON) on stdout; keep it elsewhere."""
    with client() as c:
        envelope = c.audit_checkpoint()
    typer.echo(json.dumps(envelope, indent=2, sort_keys=True))


def read_checkpoints(files: list[Path]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in files:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise InvalidInput(f"cannot read checkpoint {path}: {exc.strerror}") from None
        except ValueError:
            raise InvalidInput(f"checkpoint {path} is not JSON") from None
    return out
