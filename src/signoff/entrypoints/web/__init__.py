"""The web UI: server-rendered pages on the API's app (no JavaScript build, no CDN).

`mount_web(app, ctx)` adds the pages, the static files and the session-cookie authenticator
to an app made by `create_app`; `create_app` calls it, so every server has the UI.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from itsdangerous import URLSafeSerializer

from signoff.adapters.links import ReviewLinks
from signoff.bootstrap import Context
from signoff.config import secret_key_problem
from signoff.entrypoints.web import (
    admin, admin_ops, api_docs, auth, compare, errors, finding, mailbox, pages, review, sso,
)
from signoff.entrypoints.web.common import HERE, WebState, make_templates

log = logging.getLogger("signoff.web")


def review_links(ctx: Context) -> ReviewLinks:
    server = ctx.settings.server
    return ReviewLinks(server.secret_key.get_secret_value(), server.public_url)


def mount_web(app: FastAPI, ctx: Context, *, mail_catcher: Any = None) -> None:
    """Add the UI to `app`; `mail_catcher` (a demo Mailbox) turns on /mailbox."""
    server = ctx.settings.server
    problem = secret_key_problem(server.secret_key.get_secret_value())
    if problem is not None:
        # Review links and cookies are signed with it: anyone who can guess it can forge them.
        # `signoff server` refuses such a key; embedded apps (tests, the SDK's own) only warn.
        log.warning("[server] secret_key %s (`signoff secret-key` prints a fresh one)", problem)
    app.state.web = WebState(
        ctx=ctx, templates=make_templates(), links=review_links(ctx),
        cookies=URLSafeSerializer(server.secret_key.get_secret_value(), salt="signoff.web"),
        secure_cookies=server.public_url.startswith("https://"), mailbox=mail_catcher,
    )
    for router in (auth.router, pages.router, review.router, mailbox.router, admin.router, api_docs.router):
        app.include_router(router)
    app.include_router(finding.router)  # versions, my submissions, requests, the audit browser
    app.include_router(admin_ops.router)  # tokens, rules, deliveries for administrators
    app.include_router(compare.router)  # two versions side by side
    sso.install(app, ctx)  # LDAP passwords and "Sign in with …" (OIDC)
    errors.install(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    authenticators = getattr(app.state, "authenticators", None)
    if authenticators is not None and auth.session_authenticator not in authenticators:
        authenticators.append(auth.session_authenticator)


def set_mail_catcher(app: FastAPI, mail_catcher: Any) -> None:
    """Demo mode: show `mail_catcher`'s messages at /mailbox."""
    app.state.web.mailbox = mail_catcher
