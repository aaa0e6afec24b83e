"""Which extra brings a module, so a missing one is one line naming what to install.

`pip install signoff` is the SDK alone (httpx, pydantic). The rest comes in extras:
`cli` (the `signoff` command), `server` (API, web UI, worker, embedded use, drift),
`inference` (batch scoring and loading artifacts), `demo` (the demo story and server),
`verify` (offline attestation checks), `evidence` (PDF packs), `mlflow` (the MLflow flavor).
"""

from __future__ import annotations

# Top-level module -> the extra that declares it (pyproject.toml). A module two extras declare
# maps to the smaller one that suffices.
_EXTRA_OF: dict[str, str] = {
    **dict.fromkeys(("typer", "rich"), "cli"),
    **dict.fromkeys(("sqlalchemy", "alembic", "pydantic_settings", "fastapi", "starlette", "uvicorn", "jinja2",
                     "multipart", "python_multipart", "argon2", "itsdangerous", "ldap3", "authlib", "joserfc",
                     "aiosmtpd", "prometheus_client", "pythonjsonlogger", "psycopg", "limits", "botocore",
                     "scipy"), "server"),
    **dict.fromkeys(("sklearn", "pandas", "pyarrow", "onnxruntime", "joblib", "numpy", "fsspec"), "inference"),
    "cryptography": "verify",
    "weasyprint": "evidence",
    "mlflow": "mlflow",
}


class MissingExtra(ImportError):
    """A feature was used whose extra is not installed; the message names the extra."""

    def __init__(self, message: str, *, extra: str, module: str | None) -> None:
        super().__init__(message, name=module)
        self.extra = extra
        self.message = message


def extra_for(module: str | None) -> str | None:
    """The extra that brings `module` (a dotted name is fine), or None if no extra declares it."""
    return _EXTRA_OF.get((module or "").split(".")[0])


def missing_extra(exc: ImportError, what: str, default: str | None = None) -> MissingExtra | None:
    """`exc` restated as MissingExtra ("WHAT needs the 'server' extra: ..."), or None when no extra
    brings the missing module (then it is a bug, not an install choice)."""
    if isinstance(exc, MissingExtra):
        return exc
    extra = extra_for(exc.name) or default
    if extra is None:
        return None
    return MissingExtra(f"{what} needs the '{extra}' extra ({exc.name} is not installed): "
                        f"pip install 'signoff[{extra}]'", extra=extra, module=exc.name)
