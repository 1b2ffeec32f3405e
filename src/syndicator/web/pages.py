"""Public pages for residents, in Korean."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from syndicator.store.models import Release
from syndicator.web.html.pages import render_home
from syndicator.web.state import AppState

__all__ = ["router"]

router = APIRouter(tags=["Pages"])


def _latest(state: AppState, limit: int = 20) -> list[Release]:
    with state.db.session() as session:
        return list(
            session.scalars(
                select(Release)
                .where(Release.retracted_at.is_(None))
                .order_by(Release.published_at.desc(), Release.id.desc())
                .limit(limit)
            )
        )


@router.get("/", response_class=HTMLResponse, summary="Home page: the newest releases")
async def home(request: Request) -> HTMLResponse:
    state: AppState = request.app.state.syndicator
    releases = await run_in_threadpool(_latest, state)
    return HTMLResponse(render_home(state.settings, releases))
