"""`signoff.Client`: one class, two transports, picked from the URL (as MLflow picks its store).

Embedded use (the services called in-process on a database) must be asked for: a pipeline that
lost `SIGNOFF_URL` must fail loudly, not quietly create `./.signoff/signoff.db` and approve
itself there. And it acts as a named, existing user, never as an identity made up on the spot.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from signoff._extras import missing_extra
from signoff.errors import InvalidInput
from signoff.sdk._base import BaseClient

if TYPE_CHECKING:
    from signoff.config import Settings

NO_TARGET = ("no signoff server or database named: set SIGNOFF_URL (and SIGNOFF_TOKEN) to use a signoff server; "
             "for embedded use name the database explicitly (Client(database_url=..., actor=...), "
             "SIGNOFF_DATABASE_URL, or a config file: SIGNOFF_CONFIG or ./signoff.toml)")


def embedded_settings(*, config: str | None = None, database_url: str | None = None) -> Settings:
    """Settings for in-process use, only when a database or a config file is named; raises InvalidInput.

    `database_url` or `$SIGNOFF_DATABASE_URL` names the database; a config file (`config`,
    `$SIGNOFF_CONFIG` or `./signoff.toml`) names the deployment.
    """
    from signoff.config import config_path, load_settings

    overrides = {"database_url": database_url} if database_url else {}
    if not (database_url or os.environ.get("SIGNOFF_DATABASE_URL") or config_path(config) is not None):
        raise InvalidInput(NO_TARGET, details={"missing": "SIGNOFF_URL"})
    return load_settings(config, **overrides)


def Client(url: str | None = None, token: str | None = None, *, database_url: str | None = None,  # noqa: N802
           actor: str | None = None, config: str | None = None, **kwargs: Any) -> BaseClient:
    """Talk to a server over HTTP when `url` (or $SIGNOFF_URL) is set, else to a named database in-process.

    Embedded use needs `signoff[server]` and an explicit database: `Client(database_url=..., actor="alice")`,
    `$SIGNOFF_DATABASE_URL` or a config file (`config`, `$SIGNOFF_CONFIG`, ./signoff.toml). Writes act as
    `actor` (or $SIGNOFF_USER), a user that must exist; without one the embedded client can only read. Raises InvalidInput when neither a
    server nor a database is named, AuthenticationFailed for an unknown or disabled actor.
    """
    url = url or os.environ.get("SIGNOFF_URL") or None
    if url and url.startswith(("http://", "https://")):
        from signoff.sdk._remote import RemoteClient

        return RemoteClient(url, token or os.environ.get("SIGNOFF_TOKEN"), **kwargs)
    actor = actor or os.environ.get("SIGNOFF_USER") or None
    try:
        if "settings" not in kwargs and "context" not in kwargs:
            kwargs["settings"] = embedded_settings(config=config, database_url=database_url or url)
        from signoff.sdk._embedded import EmbeddedClient
    except ImportError as exc:
        raise (missing_extra(exc, "embedded use (a database, no SIGNOFF_URL)") or exc) from None
    return EmbeddedClient(actor=actor, **kwargs)
