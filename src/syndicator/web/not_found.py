"""A browser that asks for a page no route has gets the site's not-found page, in the
resident's language; API clients keep FastAPI's JSON answer."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from syndicator.i18n import N_
from syndicator.web.board.render import render_not_found
from syndicator.web.language import page_language

__all__ = ["install_not_found_page"]

# Where a machine, not a resident, is the reader.
_MACHINE_PATHS = ("/api/", "/hooks/", "/ops", "/feeds/", "/static/", "/openapi.json")


def _wants_page(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and not request.url.path.startswith(_MACHINE_PATHS)


def install_not_found_page(app: FastAPI) -> None:
    async def answer(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code != 404 or not _wants_page(request):
            return await http_exception_handler(request, exc)
        html = render_not_found(
            request.app.state.syndicator.settings,
            N_("쪽을 찾을 수 없습니다"),
            N_("주소가 바뀌었거나 없는 쪽입니다. 보도자료 목록에서 찾아 보세요."),
            page_language(request),
        )
        return HTMLResponse(html, status_code=404, headers={"Cache-Control": "no-cache"})

    app.add_exception_handler(HTTPException, answer)
