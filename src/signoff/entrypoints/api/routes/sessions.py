"""`/api/v1/sessions`: sign in with a name and password (local account or LDAP / Active Directory).

A sign-in answers with a short-lived API token (`[auth] session_ttl`, `session_scopes`), so a
person's CLI or script uses the same Bearer scheme as a pipeline. The directory's groups are
written to the user's memberships at every sign-in and re-checked at decision time.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Depends, Request, Response
from pydantic import Field

from signoff.adapters.identity import directory_for
from signoff.bootstrap import Context
from signoff.domain.identity import Principal
from signoff.domain.timespec import parse_duration
from signoff.entrypoints.api.deps import context, current_principal
from signoff.entrypoints.api.routes import api_router
from signoff.entrypoints.api.schemas import ErrorBody, Timestamp, _In, _Out
from signoff.entrypoints.signin_guard import throttled
from signoff.errors import InvalidInput
from signoff.services import identity, tokens

router = api_router("sessions")

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "The directory or identity provider is unavailable"}}
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many failed sign-ins; wait the Retry-After seconds",
          "headers": {"Retry-After": {"description": "Seconds until sign-in is allowed again",
                                      "schema": {"type": "integer"}}}}}


class SessionCreate(_In):
    username: str = Field(min_length=1, max_length=256, examples=["carol"])
    password: str = Field(min_length=1, max_length=1024)


class SessionPublic(_Out):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    user: str
    provider: str
    groups: list[str]
    scopes: list[str]
    expires_at: Timestamp | None


@router.post("/sessions", status_code=201, response_model=SessionPublic, responses={**UNAVAILABLE, **THROTTLED})
def create_session(body: SessionCreate, request: Request, ctx: Context = Depends(context)) -> dict[str, Any]:
    """Sign in; no credentials needed beyond the body. 401 for a wrong name or password (one message for
    both), 429 with Retry-After after too many failures for the account or from the client's address,
    503 when the directory that might know the name is down or too slow."""
    who = throttled(request, ctx, lambda: identity.sign_in(uow=ctx.uow(), directory=directory_for(ctx),
                                                            username=body.username, password=body.password),
                    username=body.username, via="api")
    auth = ctx.settings.auth
    token, record = tokens.create_token(uow=ctx.uow(), user=who.name, scopes=list(auth.session_scopes),
                                        actor=who.name, expires_in=parse_duration(auth.session_ttl),
                                        name=f"sign-in ({who.provider})")
    return {"token": token, "token_type": "Bearer", "user": who.name, "provider": who.provider,
            "groups": sorted(who.groups), "scopes": record["scopes"], "expires_at": record["expires_at"]}


@router.delete("/sessions/current", status_code=204)
def delete_session(request: Request, principal: Principal = Depends(current_principal),
                   ctx: Context = Depends(context)) -> Response:
    """Sign out: revoke the token this request is made with."""
    if principal.token_id is None:
        raise InvalidInput("only a token's session can be ended here; sign out of the web UI with /signout")
    tokens.revoke_token(uow=ctx.uow(), token_id=principal.token_id, actor=principal.name)
    request.app.state.verifier.forget()
    return Response(status_code=204)
