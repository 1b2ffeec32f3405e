"""``/docs``: Swagger UI from the vendored ``swagger-ui-dist`` under /static/vendor, never a CDN.

City networks are closed, so the page must work with no host but this one: the script,
the styles and the favicon are ours, and the online validator badge is off (it would
fetch an image from validator.swagger.io).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

__all__ = ["SWAGGER_UI_DIR", "router"]

SWAGGER_UI_DIR = "/static/vendor/swagger-ui"

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} — API",
        swagger_js_url=f"{SWAGGER_UI_DIR}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI_DIR}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI_DIR}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
