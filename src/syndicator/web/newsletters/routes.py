"""``GET /newsletters/<id>``: the web copy a newsletter links to as "웹에서 보기"."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from syndicator.i18n import N_
from syndicator.store.models import NewsletterCopy, Release
from syndicator.web.board.render import render_not_found
from syndicator.web.language import page_language
from syndicator.web.newsletters.render import render_copy
from syndicator.web.state import AppState

__all__ = ["COPY_CACHE_CONTROL", "router"]

router = APIRouter(tags=["Pages"])

# A copy never changes, but a release in it may be retracted: a front cache keeps it for
# minutes, not days.
COPY_CACHE_CONTROL = "public, max-age=300"
# The ids web_copies makes: 20 URL-safe base64 characters. Anything else is not looked up.
_ID = re.compile(r"[A-Za-z0-9_-]{20}")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such newsletter", "content": {"text/html": {}}}
}


def _load(state: AppState, copy_id: str) -> tuple[str, dict[str, Any], set[int]] | None:
    with state.db.replica_session() as session:
        row = session.get(NewsletterCopy, copy_id)
        if row is None:
            return None
        ids = [int(r["id"]) for r in row.content.get("releases", [])]
        retracted = set(
            session.scalars(
                select(Release.id).where(Release.id.in_(ids), Release.retracted_at.is_not(None))
            )
        )
        return row.kind, row.content, retracted


@router.get(
    "/newsletters/{copy_id}",
    response_class=HTMLResponse,
    summary="A newsletter's or digest's web copy (no personal data: shareable)",
    responses=_NOT_FOUND,
)
async def newsletter_copy(request: Request, copy_id: str) -> Response:
    state: AppState = request.app.state.syndicator
    found = await run_in_threadpool(_load, state, copy_id) if _ID.fullmatch(copy_id) else None
    if found is None:
        html = render_not_found(
            state.settings,
            N_("뉴스레터를 찾을 수 없습니다"),
            N_("주소가 잘못되었거나 없는 뉴스레터입니다."),
            page_language(request),
        )
        return HTMLResponse(html, 404, headers={"Cache-Control": "public, max-age=60"})
    kind, content, retracted = found
    html = render_copy(state.settings, copy_id, kind, content, retracted, page_language(request))
    return HTMLResponse(html, headers={"Cache-Control": COPY_CACHE_CONTROL})
