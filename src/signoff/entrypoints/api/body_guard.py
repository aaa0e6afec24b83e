"""Request input no handler should ever see: JSON nested past any real document, the non-JSON
numbers NaN and ±Infinity, and NUL characters (PostgreSQL text cannot hold them).

Checked once in the API middleware for every request, before any route (hot or FastAPI) parses
anything, so each door answers the same 400 and nothing is written. The common case costs a few
C-level byte scans; a body is parsed here only when a scan finds something suspicious.
"""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Any

from starlette.types import Message, Receive

from signoff.domain.models import MAX_DOCUMENT_DEPTH, check_document
from signoff.errors import InvalidInput

_OPEN_CLOSE = bytes.maketrans(b"[{]}", b"\x01\x01\x02\x02")
_NOT_BRACKET = bytes(b for b in range(256) if b not in (1, 2))
_STRING = None  # compiled on first use (a deep body is rare)


def check_url(path: str, query: bytes) -> InvalidInput | None:
    """The refusal for a NUL in the (decoded) path or the query string, or None."""
    if "\x00" in path or b"%00" in query:
        return InvalidInput("NUL characters are not allowed in the path or query", details={"field": "url"})
    return None


def check_body(content_type: bytes, body: bytes) -> InvalidInput | None:
    """The refusal for this request body, or None when it may go on."""
    if not body:
        return None
    if b"json" in content_type:
        return _check_json(body)
    if content_type.startswith(b"application/x-www-form-urlencoded") and b"%00" in body:
        return InvalidInput("NUL characters are not allowed in form fields", details={"field": "body"})
    return None


def _check_json(body: bytes) -> InvalidInput | None:
    if body.count(b"[") + body.count(b"{") > MAX_DOCUMENT_DEPTH and _depth(body) > MAX_DOCUMENT_DEPTH:
        return InvalidInput(f"the JSON body is nested deeper than {MAX_DOCUMENT_DEPTH} levels",
                            details={"field": "body", "max_depth": MAX_DOCUMENT_DEPTH})
    if b"NaN" in body or b"Infinity" in body or b"\\u0000" in body:
        try:
            check_document(json.loads(body, parse_constant=_no_constant), "body")
        except InvalidInput as exc:
            return exc
        except ValueError:  # not JSON at all: the route's validation words that error
            return None
    return None


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a JSON number; send finite numbers (or null)",
                       details={"field": "body", "value": name})


def _depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted."""
    global _STRING
    if _STRING is None:
        import re

        _STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
    # Raw control bytes are not valid in JSON, so 1 and 2 can only be the brackets mapped here.
    brackets = _STRING.sub(b"", body).translate(_OPEN_CLOSE).translate(None, _NOT_BRACKET)
    return max(accumulate(1 if b == 1 else -1 for b in brackets), default=0)


def replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for a body already read (here, or by a hot route handing a request back)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
