"""Shared dependencies: who is calling (authenticators) and what they may do (scopes).

`app.state.authenticators` is a list of callables `(Request) -> Principal | None`, asked in
order; the first that recognises the request wins. The bearer-token one is always there; the
web UI appends its session-cookie authenticator. An authenticator that recognises its kind of
credential but finds it bad raises AuthenticationFailed rather than passing it on.

Dependencies are `async def` on purpose: they do no I/O on the hot path (tokens are cached),
and FastAPI would otherwise send each one through the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

from fastapi import Depends, Query, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from signoff.bootstrap import Context
from signoff.domain.identity import ANONYMOUS, Principal
from signoff.domain.models import INT32_MAX as INT32_MAX  # the routes import it from here
from signoff.errors import AuthenticationFailed, InvalidInput, PermissionDenied

if TYPE_CHECKING:
    from signoff.adapters.db.credentials import TokenVerifier

Authenticator = Callable[[Request], Principal | None]

ACT_AS_HEADER = "x-signoff-as"
# Declared on the authenticating dependencies so OpenAPI marks exactly the operations that need a
# token; it never refuses anything itself (the authenticators decide).
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="An API token from `signoff tokens create`")
MAX_PAGE = 500
IntCursor = Annotated[str | None, Query(pattern=r"^[0-9]{0,18}$", description="`next_cursor` of the previous page")]


def bearer_authenticator(request: Request) -> Principal | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("the Authorization header must be 'Bearer <token>'")
    verifier: TokenVerifier = request.app.state.verifier  # set by create_app
    return verifier.verify(token.strip())


def authenticate(request: Request) -> Principal | None:
    authenticators: list[Authenticator] = request.app.state.authenticators  # set by create_app
    for authenticator in authenticators:
        principal = authenticator(request)
        if principal is not None:
            return principal
    return None


def _checked(request: Request, principal: Principal) -> Principal:
    # `--as USER` is an embedded-mode convenience; over HTTP a token acts only as its own user.
    acting_as = request.headers.get(ACT_AS_HEADER)
    if acting_as and acting_as != principal.name:
        raise PermissionDenied(f"this token acts as {principal.name!r}; it cannot act as {acting_as!r}",
                               details={"user": principal.name, "as": acting_as})
    return principal


def authenticated(request: Request) -> Principal:
    """The authenticated caller; raises AuthenticationFailed (401) without valid credentials."""
    principal = authenticate(request)
    if principal is None:
        raise AuthenticationFailed("authentication required: send 'Authorization: Bearer <token>'")
    return _checked(request, principal)


async def current_principal(request: Request,
                            _: HTTPAuthorizationCredentials | None = Security(BEARER)) -> Principal:
    """The authenticated caller; raises AuthenticationFailed (401) without valid credentials."""
    return authenticated(request)


def principal_for_resolve(request: Request) -> Principal:
    """Like current_principal, but anonymous callers may resolve when the server allows it."""
    principal = authenticate(request)
    if principal is None:
        if request.app.state.ctx.settings.server.anonymous_resolve:
            return ANONYMOUS
        raise AuthenticationFailed("authentication required: send 'Authorization: Bearer <token>'")
    return _checked(request, principal)


async def resolve_principal(request: Request,
                            _: HTTPAuthorizationCredentials | None = Security(BEARER)) -> Principal:
    return principal_for_resolve(request)


def require(*scopes: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting principals with any one of `scopes` (admin admits all)."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        return require_scope(principal, scopes)

    return dependency


def require_scope(principal: Principal, scopes: tuple[str, ...]) -> Principal:
    if not principal.allows(*scopes):
        raise PermissionDenied(f"this token lacks the {' or '.join(scopes)} scope",
                               details={"required": list(scopes), "scopes": sorted(principal.scopes)})
    return principal


async def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx  # set by create_app
    return ctx


_known_query: dict[int, tuple[frozenset[str], frozenset[str]]] = {}


async def known_query_only(request: Request) -> None:
    """Refuse query parameters the operation does not declare (`?stat=open` is a typo, not a
    filter), and repeats of single-valued ones (which value would win is not the caller's guess)."""
    if not request.scope.get("query_string"):
        return
    route: APIRoute = request.scope["route"]  # this dependency runs inside the operation's route
    known = _known_query.get(id(route))
    if known is None:
        fields = list(_query_fields(route.dependant))
        known = _known_query[id(route)] = (frozenset(f.alias for f in fields),
                                           frozenset(f.alias for f in fields if _is_sequence(f)))
    names, repeatable = known
    keys = [k for k, _ in request.query_params.multi_items()]
    unknown = sorted(set(keys) - names)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this operation takes "
                           f"{', '.join(sorted(names)) or 'none'}", details={"unknown": unknown})
    repeated = sorted({k for k in keys if keys.count(k) > 1} - repeatable)
    if repeated:
        raise InvalidInput(f"query parameter {repeated[0]!r} given more than once", details={"repeated": repeated})


def _query_fields(dependant: Any) -> Iterator[Any]:
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_fields(sub)


def _is_sequence(field: Any) -> bool:
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    candidates = [annotation, *get_args(annotation)]
    return any(get_origin(a) in (list, tuple, set, frozenset) or a in (list, tuple, set, frozenset)
               for a in candidates)




def int_cursor(cursor: str | None, top: int = 2**63 - 1) -> int | None:
    """Numeric cursors (ids, version numbers) as the services take them; raises InvalidInput.

    A cursor past the column's range (`top`) is clamped: it means "past every row", whereas
    PostgreSQL would refuse the comparison with an error.
    """
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput(f"invalid cursor {cursor!r}", details={"field": "cursor"})
    return min(int(cursor), top)


def next_cursor(items: list[dict[str, Any]], limit: int, key: str) -> str | None:
    return str(items[-1][key]) if len(items) >= limit and items else None
