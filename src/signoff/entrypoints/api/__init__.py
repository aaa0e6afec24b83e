"""The HTTP API under /api/v1 (FastAPI); build it with `create_app(settings_or_context)`."""

from signoff.entrypoints.api.app import create_app

__all__ = ["create_app"]
