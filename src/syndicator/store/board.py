"""The residents' board: live releases newest first, one numbered page at a time.

A page is found in two steps: its ids are read from a covering index alone (the newest
first index of the scope), then only those rows are loaded by primary key. The skip to
page N walks N × size index keys and never touches the table, and the total used for the
numbers is counted on the same index, so the cost does not depend on the releases' size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from syndicator.store.models import Release, ReleaseCategory, Taxon
from syndicator.store.search import search_page

__all__ = ["PAGE_SIZE", "BoardFilter", "BoardRows", "board_rows", "release", "taxa"]

PAGE_SIZE = 15


@dataclass(frozen=True)
class BoardFilter:
    department: str | None = None  # slug
    category: str | None = None  # slug
    query: str = ""


@dataclass(frozen=True)
class BoardRows:
    releases: list[Release]
    total: int


def _ids(board: BoardFilter) -> Select[Any]:
    if board.category:
        # The category index is newest-first already; the live check is per row loaded.
        query = (
            select(ReleaseCategory.release_id)
            .join(Release, Release.id == ReleaseCategory.release_id)
            .where(ReleaseCategory.slug == board.category, Release.retracted_at.is_(None))
            .order_by(ReleaseCategory.published_at.desc(), ReleaseCategory.release_id.desc())
        )
        if board.department:
            query = query.where(Release.department_slug == board.department)
        return query
    query = select(Release.id).where(Release.retracted_at.is_(None))
    if board.department:
        query = query.where(Release.department_slug == board.department)
    return query.order_by(Release.published_at.desc(), Release.id.desc())


def _in_order(session: Session, ids: Sequence[int]) -> list[Release]:
    rows = {r.id: r for r in session.scalars(select(Release).where(Release.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def count_live(session: Session, board: BoardFilter) -> int:
    return (
        session.scalar(select(func.count()).select_from(_ids(board).order_by(None).subquery())) or 0
    )


def board_rows(
    session: Session, board: BoardFilter, page: int, total: int | None = None
) -> BoardRows:
    """Page ``page`` (from 1). ``total`` may come from a cache; searches count their own."""
    offset = (page - 1) * PAGE_SIZE
    if board.query.strip():
        ids, total = search_page(
            session,
            board.query,
            department_slug=board.department,
            category_slug=board.category,
            limit=PAGE_SIZE,
            offset=offset,
        )
        return BoardRows(_in_order(session, ids), total)
    if total is None:
        total = count_live(session, board)
    ids = list(session.scalars(_ids(board).limit(PAGE_SIZE).offset(offset)))
    return BoardRows(_in_order(session, ids), total)


def release(session: Session, release_id: int) -> Release | None:
    return session.get(Release, release_id)


def taxa(session: Session) -> list[Taxon]:
    """Every department and category, by name (a few hundred rows at most)."""
    return list(session.scalars(select(Taxon).order_by(Taxon.kind, Taxon.name)))
