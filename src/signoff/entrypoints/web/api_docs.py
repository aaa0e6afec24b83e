"""`/docs` (Swagger UI) and `/redoc`: the OpenAPI reference, from files shipped in the package.

FastAPI's own pages load their scripts from a CDN (blank without internet access, no integrity
check) and start them with inline scripts; these load the vendored copies in static/vendor/
and run under the same security headers as every other page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from signoff.entrypoints.web.common import PAGE_HEADERS, web_state

router = APIRouter(include_in_schema=False)


# Redoc styles itself by writing <style> elements (styled-components) and cannot be given a
# nonce, and runs its search index in a worker it makes from a blob: URL. So its page alone also
# admits inline styles and blob: workers; scripts stay 'self' only, as everywhere.
REDOC_HEADERS = {**PAGE_HEADERS, "Content-Security-Policy": f"{PAGE_HEADERS['Content-Security-Policy']}; "
                                                            "style-src 'self' 'unsafe-inline'; worker-src blob:"}


def _page(request: Request, viewer: str, headers: dict[str, str]) -> HTMLResponse:
    templates = web_state(request).templates
    return templates.TemplateResponse(request, "api_docs.html", {"viewer": viewer, "title": request.app.title,
                                                                 "spec_url": request.app.openapi_url},
                                      headers=headers)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return _page(request, "swagger", PAGE_HEADERS)


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _page(request, "redoc", REDOC_HEADERS)
