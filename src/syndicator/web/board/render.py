"""The board, release and not-found pages, pure renders of settings and rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from syndicator.config import Settings
from syndicator.events.text import sanitize_html
from syndicator.feeds.render.entries import license_url, rights_text
from syndicator.feeds.render.model import KST
from syndicator.feeds.scopes import SITE, Scope
from syndicator.i18n import N_, translate
from syndicator.store.board import PAGE_SIZE, BoardFilter
from syndicator.store.models import Release
from syndicator.web.html.feed_sets import feed_sets
from syndicator.web.html.templates import KOREAN, PageLanguage, render

__all__ = [
    "BoardView",
    "attachment_size",
    "page_numbers",
    "render_board",
    "render_not_found",
    "render_release",
]

# How many page numbers the pager shows at once, like the city's board.
PAGER_WIDTH = 10
_SCOPE_DIRS = {"department": "departments", "category": "categories"}


@dataclass(frozen=True)
class BoardView:
    """What the board shows above its rows: the filter, where it is, and its names."""

    board: BoardFilter
    page: int
    total: int
    departments: Sequence[tuple[str, str]]  # (slug, name)
    categories: Sequence[tuple[str, str]]
    scope: Scope = SITE  # a /departments/<slug> or /categories/<slug> page
    path: str = "/"


def attachment_size(size: int | None) -> str:
    """1.2MB, 28KB, 512B: how the city writes sizes."""
    if size is None:
        return ""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}MB"
    if size >= 1024:
        return f"{round(size / 1024)}KB"
    return f"{size}B"


def page_numbers(page: int, pages: int, width: int = PAGER_WIDTH) -> range:
    """The block of page numbers around ``page``: 1–10, 11–20, …"""
    first = (page - 1) // width * width + 1
    return range(first, min(first + width, pages + 1))


def _kst(release: Release, fmt: str = "%Y.%m.%d") -> str:
    return release.published_at.astimezone(KST).strftime(fmt)


def _page_url(view: BoardView, page: int) -> str:
    params: dict[str, Any] = {}
    if view.board.department and view.scope.kind != "department":
        params["department"] = view.board.department
    if view.board.category and view.scope.kind != "category":
        params["category"] = view.board.category
    if view.board.query:
        params["q"] = view.board.query
    if page > 1:
        params["page"] = page
    return view.path + (f"?{urlencode(params)}" if params else "")


def _row(release: Release, number: int) -> dict[str, Any]:
    return {
        "number": number,
        "id": release.id,
        "title": release.title,
        "department": release.department,
        "published": _kst(release),
        "attachments": len(release.attachments or []),
    }


# The release's time as the city writes it; in English, as ISO 8601 reads.
PUBLISHED_FORMAT = N_("%Y년 %m월 %d일 %H:%M")
_SCOPE_HEADINGS = {
    "department": N_("%(name)s 보도자료"),
    "category": N_("%(name)s 분야 보도자료"),
}


def _heading(settings: Settings, view: BoardView, language: str) -> str:
    heading = _SCOPE_HEADINGS.get(view.scope.kind)
    if heading is None:
        return settings.site_title
    return translate(language, heading) % {"name": view.scope.name}


def render_board(
    settings: Settings, view: BoardView, releases: Sequence[Release], page: PageLanguage = KOREAN
) -> str:
    pages = max(1, -(-view.total // PAGE_SIZE))
    first_number = view.total - (view.page - 1) * PAGE_SIZE
    numbers = page_numbers(view.page, pages)
    pager = {
        "pages": [(n, _page_url(view, n)) for n in numbers],
        "current": view.page,
        "first": _page_url(view, 1) if numbers.start > 1 else None,
        "previous": _page_url(view, numbers.start - 1) if numbers.start > 1 else None,
        "next": _page_url(view, numbers.stop) if numbers.stop <= pages else None,
        "last": _page_url(view, pages) if numbers.stop <= pages else None,
    }
    return render(
        settings,
        "site/board.html",
        page=page,
        heading=_heading(settings, view, page.code),
        view=view,
        searching=bool(view.board.query.strip()),
        rows=[_row(r, first_number - i) for i, r in enumerate(releases)],
        pager=pager,
        pages=pages,
        feed_sets=feed_sets(settings, view.scope),
    )


def _contact(contact: Mapping[str, Any] | None) -> list[str]:
    if not contact:
        return []
    return [str(v) for k in ("name", "phone", "email") if (v := contact.get(k))]


def render_release(
    settings: Settings, release: Release, scopes: Sequence[Scope], page: PageLanguage = KOREAN
) -> str:
    """``scopes`` are the release's department and categories, for their feeds and links."""
    attachments = [
        {
            "filename": a.get("filename") or a.get("url", ""),
            "url": a.get("url", ""),
            "size": attachment_size(a.get("size")),
        }
        for a in release.attachments or []
    ]
    department = next((s for s in scopes if s.kind == "department"), None)
    return render(
        settings,
        "site/release.html",
        page=page,
        release=release,
        published=_kst(release, translate(page.code, PUBLISHED_FORMAT)),
        published_iso=release.published_at.astimezone(KST).isoformat(),
        body=Markup(sanitize_html(release.body_html)),
        attachments=attachments,
        contact=_contact(release.contact),
        licence_text=rights_text(release.license),
        licence_url=license_url(release.license),
        licence_type=release.license[-1] if release.license.startswith("KOGL-") else None,
        scopes=[(s, f"/{_SCOPE_DIRS[s.kind]}/{s.slug}") for s in scopes],
        department_url=f"/departments/{department.slug}" if department else None,
        retracted=release.retracted_at is not None,
        feed_sets=feed_sets(settings, department or SITE),
    )


def render_not_found(
    settings: Settings,
    heading: str,
    text: str,
    page: PageLanguage = KOREAN,
    names: Mapping[str, object] | None = None,
) -> str:
    """``heading`` and ``text`` are messages marked with ``N_``, translated in the
    template; ``names`` fills their ``%(name)s`` places, escaped."""
    return render(
        settings,
        "site/not_found.html",
        page=page,
        heading=heading,
        text=text,
        names=dict(names or {}),
        feed_sets=feed_sets(settings, SITE),
    )
