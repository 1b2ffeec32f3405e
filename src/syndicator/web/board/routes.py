"""The board's routes: the newest releases, a department's or category's board, a release's
page, and Korean not-found pages."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from syndicator.feeds.scopes import SITE, Scope
from syndicator.i18n import N_
from syndicator.store.board import BoardFilter, BoardRows, board_rows, release, taxa
from syndicator.store.models import Release, ReleaseCategory, Taxon, TaxonAlias
from syndicator.web.board.render import BoardView, render_board, render_not_found, render_release
from syndicator.web.html.templates import PageLanguage
from syndicator.web.ids import whole_number
from syndicator.web.language import page_language
from syndicator.web.state import AppState

__all__ = ["PAGE_CACHE_CONTROL", "router"]

router = APIRouter(tags=["Pages"])

# Browsers and a front cache may reuse a page briefly; a new release shows within a minute.
PAGE_CACHE_CONTROL = "public, max-age=60"
# The board's totals are counted at most this often per filter (they only number rows).
COUNT_SECONDS = 30.0
# Past this the page number is a typo or a crawler, not a resident.
MAX_PAGE = 100_000
_DIRS = {"department": "departments", "category": "categories"}
_NO_SUCH_SCOPE = {
    "department": (N_("부서를 찾을 수 없습니다"), N_("‘%(slug)s’라는 부서는 없습니다.")),
    "category": (N_("분야를 찾을 수 없습니다"), N_("‘%(slug)s’라는 분야는 없습니다.")),
}


@dataclass
class _Counts:
    """Totals per filter, kept COUNT_SECONDS: counting is the one step that grows with
    the history, so it is done once per half minute rather than on every page."""

    seen: dict[BoardFilter, tuple[float, int]] = field(default_factory=dict)

    def get(self, board: BoardFilter) -> int | None:
        found = self.seen.get(board)
        if found is None or time.monotonic() - found[0] > COUNT_SECONDS:
            return None
        return found[1]

    def put(self, board: BoardFilter, total: int) -> None:
        if len(self.seen) > 1000:
            self.seen.clear()
        self.seen[board] = (time.monotonic(), total)


@dataclass(frozen=True)
class _Taxa:
    departments: list[tuple[str, str]]
    categories: list[tuple[str, str]]

    def name(self, kind: str, slug: str) -> str | None:
        pairs = self.departments if kind == "department" else self.categories
        return next((name for s, name in pairs if s == slug), None)


def _counts(request: Request) -> _Counts:
    counts: _Counts | None = getattr(request.app.state, "board_counts", None)
    if counts is None:
        counts = request.app.state.board_counts = _Counts()
    return counts


def _state(request: Request) -> AppState:
    return request.app.state.syndicator


def _html(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": PAGE_CACHE_CONTROL})


def _load_taxa(state: AppState) -> _Taxa:
    with state.db.replica_session() as session:
        rows = taxa(session)
    return _Taxa(
        [(t.slug, t.name) for t in rows if t.kind == "department"],
        [(t.slug, t.name) for t in rows if t.kind == "category"],
    )


def _rows(state: AppState, board: BoardFilter, page: int, total: int | None) -> BoardRows:
    with state.db.replica_session() as session:
        return board_rows(session, board, page, total)


def _page_number(raw: str) -> int | None:
    """A resident's typo is a Korean 404 page, not a JSON validation error."""
    return whole_number(raw, 1, MAX_PAGE)


def _no_such_page(state: AppState, page: PageLanguage) -> Response:
    html = render_not_found(
        state.settings, N_("쪽을 찾을 수 없습니다"), N_("목록에 그런 쪽 번호는 없습니다."), page
    )
    return _html(html, 404)


async def _board(request: Request, board: BoardFilter, raw_page: str, scope: Scope) -> Response:
    state = _state(request)
    language = page_language(request)
    page = _page_number(raw_page)
    if page is None:
        return _no_such_page(state, language)
    known = await run_in_threadpool(_load_taxa, state)
    # An unknown filter value (an old bookmark) is dropped: the form then shows 전체.
    board = BoardFilter(
        department=board.department if known.name("department", board.department or "") else None,
        category=board.category if known.name("category", board.category or "") else None,
        query=board.query.strip()[:200],
    )
    counts = _counts(request)
    rows = await run_in_threadpool(_rows, state, board, page, counts.get(board))
    if not board.query:
        counts.put(board, rows.total)
    if page > 1 and not rows.releases:
        return _no_such_page(state, language)
    view = BoardView(
        board=board,
        page=page,
        total=rows.total,
        departments=known.departments,
        categories=known.categories,
        scope=scope,
        path=str(request.url.path),
    )
    return _html(render_board(state.settings, view, rows.releases, language))


# A page that does not exist (no such page number, department, category or release) is a
# Korean page for residents, not a problem document.
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such page", "content": {"text/html": {}}}
}
_PAGE = Query("1", max_length=20, description="Page number, from 1")
_Q = Query("", max_length=200, description="Search words (titles and bodies)")


@router.get(
    "/",
    response_class=HTMLResponse,
    summary="The board: newest releases, numbered",
    responses=_NOT_FOUND,
)
async def home(
    request: Request,
    page: str = _PAGE,
    q: str = _Q,
    department: str = Query("", max_length=200),
    category: str = Query("", max_length=200),
) -> Response:
    board = BoardFilter(department or None, category or None, q)
    return await _board(request, board, page, SITE)


def _alias(state: AppState, kind: str, slug: str) -> str | None:
    with state.db.replica_session() as session:
        return session.scalar(
            select(Taxon.slug)
            .join(TaxonAlias, TaxonAlias.taxon_id == Taxon.id)
            .where(TaxonAlias.kind == kind, TaxonAlias.slug == slug)
        )


async def _scope_board(request: Request, kind: str, slug: str, page: str, q: str) -> Response:
    state = _state(request)
    known = await run_in_threadpool(_load_taxa, state)
    name = known.name(kind, slug)
    if name is None:
        moved = await run_in_threadpool(_alias, state, kind, slug)
        if moved is not None:
            target = f"{state.settings.base_url}/{_DIRS[kind]}/{moved}"
            if request.url.query:
                target += f"?{request.url.query}"
            return RedirectResponse(
                target, status_code=301, headers={"Cache-Control": "public, max-age=86400"}
            )
        heading, text = _NO_SUCH_SCOPE[kind]
        html = render_not_found(
            state.settings, heading, text, page_language(request), {"slug": slug}
        )
        return _html(html, 404)
    board = BoardFilter(
        department=slug if kind == "department" else None,
        category=slug if kind == "category" else None,
        query=q,
    )
    return await _board(request, board, page, Scope(kind, slug, name))  # type: ignore[arg-type]


def _add_scope_board(kind: str, summary: str) -> None:
    """``/departments/{slug}`` and ``/categories/{slug}``: one handler, two routes."""

    async def scope_board(request: Request, slug: str, page: str = _PAGE, q: str = _Q) -> Response:
        return await _scope_board(request, kind, slug, page, q)

    router.add_api_route(
        f"/{_DIRS[kind]}/{{slug}}",
        scope_board,
        methods=["GET"],
        name=f"{kind}_board",
        response_class=HTMLResponse,
        summary=summary,
        responses=_NOT_FOUND,
    )


_add_scope_board("department", "A department's board")
_add_scope_board("category", "A category's board")


def _release_and_scopes(state: AppState, release_id: int) -> tuple[Release, list[Scope]] | None:
    with state.db.replica_session() as session:
        row = release(session, release_id)
        if row is None:
            return None
        category_slugs = session.scalars(
            select(ReleaseCategory.slug).where(ReleaseCategory.release_id == release_id)
        ).all()
        names = {
            (t.kind, t.slug): t.name
            for t in session.scalars(
                select(Taxon).where(
                    ((Taxon.kind == "department") & (Taxon.slug == row.department_slug))
                    | ((Taxon.kind == "category") & Taxon.slug.in_(category_slugs))
                )
            )
        }
    department = names.get(("department", row.department_slug), row.department)
    scopes = [Scope("department", row.department_slug, department)]
    scopes += [Scope("category", s, names.get(("category", s), s)) for s in sorted(category_slugs)]
    return row, scopes


@router.get(
    "/releases/{release_id}",
    response_class=HTMLResponse,
    summary="One release's page",
    responses=_NOT_FOUND,
)
async def release_page(request: Request, release_id: str) -> Response:
    state = _state(request)
    found = None
    number = whole_number(release_id)
    if number is not None:
        found = await run_in_threadpool(_release_and_scopes, state, number)
    if found is None:
        html = render_not_found(
            state.settings,
            N_("보도자료를 찾을 수 없습니다"),
            N_("%(number)s번 보도자료는 없습니다."),
            page_language(request),
            {"number": release_id},
        )
        return _html(html, 404)
    row, scopes = found
    return _html(render_release(state.settings, row, scopes, page_language(request)))
