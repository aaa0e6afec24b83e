"""`/mailbox` (demo mode only): the mail the demo's SMTP catcher received, with its links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Path, Request, Response

from signoff.entrypoints.web.common import PAGE_HEADERS, WebRoute, error_page, render, web_state

if TYPE_CHECKING:
    from signoff.demo.mail_catcher import Mailbox

router = APIRouter(route_class=WebRoute, include_in_schema=False)

MailId = Path(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")
# A captured HTML body is shown as it is, but may run nothing and reach nothing.
SANDBOX = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; style-src 'unsafe-inline'"


def _mailbox(request: Request) -> Mailbox | None:
    return web_state(request).mailbox


@router.get("/mailbox")
def mailbox(request: Request) -> Response:
    box = _mailbox(request)
    if box is None:
        return error_page(request, 404, "Not found", "The mailbox exists only in demo mode (signoff server --demo).")
    return render(request, "mailbox.html", mails=box.list())


@router.get("/mailbox/{mail_id}")
def mail(request: Request, mail_id: str = MailId) -> Response:
    box = _mailbox(request)
    found = box.get(mail_id) if box is not None else None
    if found is None:
        return error_page(request, 404, "Not found", f"No captured mail {mail_id}.")
    return render(request, "mail.html", mail=found)


@router.get("/mailbox/{mail_id}/html")
def mail_html(request: Request, mail_id: str = MailId) -> Response:
    box = _mailbox(request)
    found = box.get(mail_id) if box is not None else None
    if found is None or found.html is None:
        return error_page(request, 404, "Not found", f"No HTML part in captured mail {mail_id}.")
    headers = {**PAGE_HEADERS, "Content-Security-Policy": SANDBOX}
    return Response(found.html, media_type="text/html", headers=headers)
