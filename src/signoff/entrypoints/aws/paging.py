"""`NextToken`s of the AWS doors: opaque to clients, an offset (or a version) inside."""

from __future__ import annotations

import base64
import json
from typing import Any

from signoff.entrypoints.aws.errors import validation


def token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def offset(params: dict[str, Any]) -> int:
    """Where the page asked for starts: 0 without a NextToken; raises ValidationException for a bad one."""
    given = params.get("NextToken")
    if given in (None, ""):
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(str(given).encode()))["o"]
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    except (ValueError, KeyError, TypeError):
        pass
    raise validation("The specified NextToken is not valid.")
