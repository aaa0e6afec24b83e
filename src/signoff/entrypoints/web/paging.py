"""Next/previous links that keep the page's filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from signoff.services.browse import Page


def page_url(request: Request, number: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v != ""]
    if number > 1:
        params.append(("page", str(number)))
    return request.url.path + (f"?{urlencode(params)}" if params else "")


def pager(request: Request, page: Page) -> dict[str, Any]:
    """What the `pager` macro shows: counts and the first/previous/next/last links."""
    return {
        "total": page.total, "first_index": page.first_index, "last_index": page.last_index,
        "number": page.number, "pages": page.pages,
        "first": page_url(request, 1) if page.has_previous else None,
        "previous": page_url(request, page.number - 1) if page.has_previous else None,
        "next": page_url(request, page.number + 1) if page.has_next else None,
        "last": page_url(request, page.pages) if page.has_next else None,
    }
