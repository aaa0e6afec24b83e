"""Read pages: models, a model's board, a version, the queue, parameters, rules, dead letters."""

from __future__ import annotations

import json

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from signoff.bootstrap import Context
from signoff.domain.models import INT32_MAX
from signoff.entrypoints.signatures import with_signatures
from signoff.entrypoints.web.common import (
    WebRoute,
    check_csrf,
    render,
    signed_in,
    viewer,
    web_state,
)
from signoff.entrypoints.web.paging import page_url, pager
from signoff.errors import NotFound, PermissionDenied
from signoff.services import (
    approvals,
    attestations,
    browse,
    history,
    queries,
    registry,
    review,
    rules,
)
from signoff.services import deliveries as delivery_service
from signoff.services.live import parameter_name

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ModelName = Path(max_length=128)
Number = Path(ge=1, le=INT32_MAX)


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/queue" if viewer(request) else "/signin", status_code=303)


PageNumber = Query(1, ge=1, le=INT32_MAX)
PageSize = Query(50, ge=1, le=browse.MAX_PAGE)


@router.get("/models")
def models(
    request: Request,
    q: str = Query("", max_length=128),
    tag: str = Query("", max_length=256),
    group: str = Query("", max_length=128),
    live: str = Query("", max_length=64),
    page: int = PageNumber,
    size: int = PageSize,
) -> Response:
    signed_in(request)
    ctx = web_state(request).ctx
    found = browse.find_models(uow=ctx.read_uow(), workflow=ctx.workflow, text=q.strip() or None,
                               tag=tag.strip() or None, owner_group=group or None,
                               live_in=live if live in ctx.workflow.order else None, page=page, size=size)
    return render(request, "models.html", models=found.items, pager=pager(request, found),
                  pager_first_url=page_url(request, 1),
                  owner_groups=found.extra["owner_groups"],
                  filters={"q": q, "tag": tag, "group": group, "live": live},
                  filtered=bool(q.strip() or tag.strip() or group or live))


@router.get("/models/{name}")
def board(request: Request, name: str = ModelName, page: int = PageNumber, size: int = PageSize) -> Response:
    signed_in(request)
    ctx = web_state(request).ctx
    model = registry.get_model(uow=ctx.read_uow(), model=name)
    found = browse.board_page(uow=ctx.read_uow(), workflow=ctx.workflow, model=name, page=page, size=size)
    open_requests = {(r.version, r.env): r.id for r in approvals.list_requests(
        uow=ctx.read_uow(), workflow=ctx.workflow, state="open", model=name, limit=1000)}
    return render(request, "board.html", model=model.to_dict(), versions=[v.to_dict() for v in found.items],
                  pager=pager(request, found), open_requests=open_requests,
                  parameters={env: parameter_name(name, env) for env in ctx.workflow.order},
                  timeline=history.live_timeline(uow=ctx.read_uow(), workflow=ctx.workflow, model=name,
                                                 now=ctx.clock.now()),
                  trends=history.metric_trends(uow=ctx.read_uow(), workflow=ctx.workflow, model=name))


@router.get("/models/{name}/versions/{number}/evidence.{fmt}")
def evidence_download(request: Request, name: str = ModelName, number: int = Number, fmt: str = "html") -> Response:
    """The version's evidence pack as a download: html (prints cleanly), json (checks offline) or pdf."""
    from signoff.services import evidence_pack as evidence

    user = signed_in(request)
    if fmt not in ("html", "json", "pdf"):
        raise NotFound(f"no evidence pack format {fmt!r} (html, json, pdf)")
    ctx = web_state(request).ctx
    pack = evidence.build_pack(uow_factory=ctx.uow, workflow=ctx.workflow, keys=ctx.keys, model=name,
                               version=number, actor=user.name)
    filename = f"evidence-{name}-v{number}.{fmt}"
    if fmt == "html":
        body, media = evidence.render_html(pack).encode(), "text/html; charset=utf-8"
    elif fmt == "json":
        body, media = json.dumps(pack, indent=2, sort_keys=True).encode(), "application/json"
    else:
        body, media = evidence.render_pdf(pack), "application/pdf"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/models/{name}/versions/{number}")
def version(request: Request, name: str = ModelName, number: int = Number) -> Response:
    signed_in(request)
    ctx = web_state(request).ctx
    v = registry.get_version(uow=ctx.read_uow(), workflow=ctx.workflow, model=name, version=number)
    subject = v.subject
    timeline = [e.to_dict() for e in queries.list_audit(uow=ctx.read_uow(), model=name, subject_prefix=subject, limit=1000)
                if e.subject == subject]
    return render(request, "version.html", version=v.to_dict(), timeline=timeline,
                  requests=with_signatures(ctx, review.version_requests(uow=ctx.read_uow(), workflow=ctx.workflow,
                                                                        model=name, version=number)),
                  reports=review.version_reports(uow=ctx.read_uow(), model=name, version=number),
                  attestations=attestations.list_attestations(uow=ctx.read_uow(), workflow=ctx.workflow, model=name,
                                                              version=number))


@router.get("/queue")
def queue(request: Request) -> Response:
    user = signed_in(request)
    ctx = web_state(request).ctx
    items = review.waiting_for(uow=ctx.read_uow(), workflow=ctx.workflow, user=user.name)
    return render(request, "queue.html", items=items)


@router.get("/parameters")
def parameters(request: Request, name: str | None = Query(None, max_length=512)) -> Response:
    signed_in(request)
    ctx = web_state(request).ctx
    if name:
        try:
            history = queries.parameter_history(uow=ctx.read_uow(), name=name, limit=10_000)
        except NotFound:
            # A model's environment where nothing was ever approved has no parameter yet: that is
            # a normal state of a known place, not a broken link.
            model, env = _model_environment(ctx, name)
            if model is None:
                raise
            return render(request, "parameter.html", name=name, history=[], model=model, env=env)
        return render(request, "parameter.html", name=name, history=list(reversed(history)))
    with ctx.read_uow() as uow:
        names = uow.params.names("/")
    return render(request, "parameters.html", names=names)


def _model_environment(ctx: Context, name: str) -> tuple[str | None, str | None]:
    """The (model, environment) whose live parameter `name` is, when both exist."""
    for env in ctx.workflow.order:
        model = name.removeprefix("/signoff/models/").removesuffix(f"/{env}")
        if parameter_name(model, env) == name and model:
            try:
                registry.get_model(uow=ctx.uow(), model=model)
            except NotFound:
                return None, None
            return model, env
    return None, None


@router.get("/rules")
def rule_list(request: Request) -> Response:
    signed_in(request)
    return render(request, "rules.html", rules=rules.list_rules(uow=web_state(request).ctx.read_uow()))


@router.get("/deliveries")
def deliveries(request: Request, state: str = Query("dead", max_length=16)) -> Response:
    signed_in(request)
    items = delivery_service.list_deliveries(uow=web_state(request).ctx.read_uow(), state=state or None, limit=500)
    return render(request, "deliveries.html", items=list(reversed(items)), state=state,
                  states=["dead", "pending", "running", "succeeded"])


@router.post("/deliveries/{delivery_id}/replay")
def replay(request: Request, delivery_id: int = Path(ge=1, le=2**53), csrf_token: str = Form("")) -> Response:
    user = signed_in(request)
    check_csrf(user, csrf_token)
    if not user.admin:
        raise PermissionDenied(f"{user.name} is not an administrator; only administrators replay deliveries",
                               details={"required": ["admin"]})
    ctx = web_state(request).ctx
    out = delivery_service.replay_and_drain(uow_factory=ctx.uow, delivery_id=delivery_id, actor=user.name,
                                            drain=ctx.inline_drain)
    return RedirectResponse(f"/deliveries?state={out['state']}&replayed={delivery_id}", status_code=303)
