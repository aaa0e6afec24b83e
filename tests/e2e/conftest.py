"""The API in-process: the FastAPI app over the test's fresh database, tokens per user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from signoff.adapters.db.tables import AuditRow, OutboxRow
from signoff.bootstrap import Context
from signoff.entrypoints.api import create_app
from signoff.sdk._remote import RemoteClient
from signoff.services import tokens

EVERYDAY = ("register", "resolve", "report", "decide")


class Api:
    """An app, a test client, and tokens minted straight through the service."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.app: FastAPI = create_app(ctx)
        self.http = TestClient(self.app)

    def token(self, user: str, *scopes: str, expires_in: timedelta | None = None) -> str:
        token, _ = tokens.create_token(uow=self.ctx.uow(), user=user, scopes=list(scopes or EVERYDAY), actor="test",
                                       expires_in=expires_in)
        return token

    def auth(self, user: str, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, *scopes)}"}

    def client(self, user: str, *scopes: str) -> RemoteClient:
        """The SDK's HTTP transport, carried to the app by Starlette's in-process transport."""
        transport: httpx.BaseTransport = self.http._transport  # the TestClient's ASGI bridge
        return RemoteClient("http://testserver", self.token(user, *scopes), transport=transport)

    def counts(self) -> tuple[int, int]:
        """(audit entries, outbox events): an error must leave both unchanged."""
        with self.ctx.engine.connect() as conn:
            audit = conn.execute(select(func.count()).select_from(AuditRow)).scalar_one()
            outbox = conn.execute(select(func.count()).select_from(OutboxRow)).scalar_one()
        return int(audit), int(outbox)


@pytest.fixture
def api(ctx: Context) -> Iterator[Api]:
    harness = Api(ctx)
    yield harness
    harness.http.close()


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error body; fails unless the response has exactly the documented shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]  # type: ignore[no-any-return]
