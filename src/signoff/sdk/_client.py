"""`signoff.Client`: one class, two transports, picked from the URL (as MLflow picks its store)."""

from __future__ import annotations

import os
from typing import Any

from signoff.sdk._base import BaseClient


def Client(url: str | None = None, token: str | None = None, **kwargs: Any) -> BaseClient:  # noqa: N802
    """Talk to a server over HTTP when `url` (or $SIGNOFF_URL) is set, else to the local database.

    Embedded use needs `signoff[server]` installed and an acting user: `Client(actor="alice")`
    (or $SIGNOFF_USER).
    """
    url = url or os.environ.get("SIGNOFF_URL") or None
    if url and url.startswith(("http://", "https://")):
        from signoff.sdk._remote import RemoteClient

        return RemoteClient(url, token or os.environ.get("SIGNOFF_TOKEN"), **kwargs)
    from signoff.sdk._embedded import EmbeddedClient

    actor = kwargs.pop("actor", None) or os.environ.get("SIGNOFF_USER") or os.environ.get("USER") or "local"
    if url:
        from signoff.config import load_settings

        kwargs.setdefault("settings", load_settings(database_url=url))
    return EmbeddedClient(actor=actor, **kwargs)
