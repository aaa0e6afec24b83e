"""Two versions of a model side by side: metrics, stages, lineage, digest and metadata."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request, Response

from signoff.entrypoints.web.common import WebRoute, render, signed_in, web_state
from signoff.services import history, registry

router = APIRouter(route_class=WebRoute, include_in_schema=False)



@router.get("/models/{name}/compare")
def compare(request: Request, name: str = Path(max_length=128), a: int | None = Query(None, ge=1, le=2**31 - 1),
            b: int | None = Query(None, ge=1, le=2**31 - 1)) -> Response:
    """Without numbers: the newest version against the one before it."""
    signed_in(request)
    ctx = web_state(request).ctx
    model = registry.get_model(uow=ctx.read_uow(), model=name)
    latest = model.latest_version
    if latest == 0:
        return render(request, "compare.html", model=model.to_dict(), result=None, a=None, b=None)
    b = b or latest
    a = a or max(1, b - 1)
    result = history.compare_versions(uow=ctx.read_uow(), workflow=ctx.workflow, model=name, a=a, b=b)
    return render(request, "compare.html", model=model.to_dict(), result=result, a=a, b=b, latest=latest)
