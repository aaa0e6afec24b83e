"""The review page, the emailed link that leads to it, and the approve/reject form posts.

Following a link only ever reads: a GET checks the link's token and shows the page. A decision
is a POST with the session's CSRF token, by a signed-in member of an approver group; the
`decide` service checks membership and the policy again, so the page cannot grant anything.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from signoff.adapters.identity import decision_groups
from signoff.domain.models import INT32_MAX
from signoff.entrypoints.web.common import (
    WebRoute,
    check_csrf,
    error_page,
    render,
    signed_in,
    status_of,
    viewer,
    web_state,
)
from signoff.entrypoints.signatures import reauthentication, signing_rules
from signoff.errors import PermissionDenied, SignoffError
from signoff.domain.signature_gaps import mark_unsigned, requires_signature
from signoff.services import approvals, review

router = APIRouter(route_class=WebRoute, include_in_schema=False)

RequestId = Path(ge=1, le=INT32_MAX)


def _review_page(request: Request, request_id: int, *, status_code: int = 200, error: str | None = None,
                 comment: str = "", comment_error: str | None = None) -> Response:
    user = signed_in(request)
    ctx = web_state(request).ctx
    data = review.review_page(uow=ctx.read_uow(), workflow=ctx.workflow, request_id=request_id, viewer=user.name)
    # `request` is the HTTP request in templates
    data["approval"] = mark_unsigned([data.pop("request")], requires_signature(ctx.workflow))[0]
    error = error or request.query_params.get("signing_error")
    return render(request, "review.html", status_code=status_code, error=error, comment=comment,
                  comment_error=comment_error, decided=request.query_params.get("decided"), **data)


@router.get("/review/{request_id}")
def review_link(request: Request, request_id: int = RequestId, t: str = Query("", max_length=2048)) -> Response:
    """The page an approval email links to. Checks the token; never changes anything."""
    state = web_state(request)
    now = state.ctx.clock.now()
    check = state.links.check(t, request_id=request_id, now=now)
    if check.status == "tampered":
        return error_page(request, 400, "This review link is not valid",
                          "The link is incomplete or has been altered. Open the request from your queue instead.",
                          request_id=None)
    if check.status == "expired":
        return error_page(request, 410, "This review link has expired",
                          f"The link expired on {check.expires_at:%Y-%m-%d %H:%M} UTC. If the request is still "
                          "open, you can find it in your queue.", request_id=None)
    user = viewer(request)
    if user is None:
        signed_in(request)  # redirects to the sign-in page, then back here
    assert user is not None
    check = state.links.check(t, request_id=request_id, now=now, email=user.email or "")
    if check.status == "foreign":
        return error_page(request, 403, "This review link was sent to someone else",
                          f"The link was mailed to {check.recipient}, but you are signed in as {user.name}. "
                          "Review links work only for the person they were sent to; if you are an approver, "
                          "open the request from your own queue.", request_id=None)
    return _review_page(request, request_id)


@router.get("/requests/{request_id}")
def review_page(request: Request, request_id: int = RequestId) -> Response:
    return _review_page(request, request_id)


@router.post("/requests/{request_id}/decision")
def decide(request: Request, request_id: int = RequestId, csrf_token: str = Form(""),
           decision: str = Form(""), comment: str = Form("", max_length=4000),
           password: str = Form("", max_length=1024), meaning: str = Form("", max_length=512),
           sign_with: str = Form("", max_length=16)) -> Response:
    user = signed_in(request)
    check_csrf(user, csrf_token)
    ctx = web_state(request).ctx
    if decision == "reject" and not comment.strip():
        # One form serves both verdicts, so the browser cannot require the comment for one of
        # them: the page says so next to the box, before any password is checked.
        return _review_page(request, request_id, status_code=400, comment=comment,
                            comment_error="Write why you reject it: a rejection needs a comment "
                                          "(the registrant reads it).")
    if decision != "approve":
        meaning = ""  # the form's meaning choices are approval meanings; a rejection's is fixed
    if sign_with == "sso":  # the provider authenticates the signer again, then the decision is made
        from signoff.entrypoints.web import esign_sso

        return esign_sso.start(request, user=user.name, request_id=request_id, decision=decision,
                               comment=comment.strip(), meaning=meaning)
    try:
        # An electronic signature needs the password typed into this form (or a sign-in moments ago).
        reauth = reauthentication(request, ctx, user.name, password=password or None, meaning=meaning or None)
        approvals.decide(uow=ctx.uow(), workflow=ctx.workflow, request_id=request_id, actor=user.name,
                         verdict=decision, comment=comment.strip(),
                         groups=decision_groups(ctx, user.name),  # directory users: groups checked now
                         reauth=reauth, signing=signing_rules(ctx))
    except PermissionDenied:
        raise  # a 403 page of its own: this person may not decide here at all
    except SignoffError as exc:  # gate failed, frozen, already decided, no comment…: show it on the page
        if exc.details.get("field") == "comment":
            return _review_page(request, request_id, status_code=status_of(exc), comment=comment,
                                comment_error=exc.message)
        return _review_page(request, request_id, status_code=status_of(exc), error=exc.message, comment=comment)
    return RedirectResponse(f"/requests/{request_id}?decided={decision}", status_code=303)
