"""One router per resource; `app.py` includes them all under /api/v1."""

from fastapi import APIRouter, Depends

from signoff.entrypoints.api.deps import known_query_only
from signoff.entrypoints.api.schemas import ErrorBody

# Every operation documents the error body for every status it can answer with.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in [
        (400, "Invalid input"), (401, "No or bad credentials"), (403, "Not allowed"), (404, "Not found"),
        (409, "Conflict with the current state"), (413, "Request body too large"), (422, "Invalid request"),
    ]
}


def api_router(tag: str) -> APIRouter:
    return APIRouter(prefix="/api/v1", tags=[tag], responses=ERROR_RESPONSES, dependencies=[Depends(known_query_only)])
