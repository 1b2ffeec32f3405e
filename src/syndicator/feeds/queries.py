"""Database reads for feeds. Every query is bounded (LIMIT or one month) and index-driven, so
a publish costs the same with ten thousand stored releases as with a hundred."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from syndicator.feeds.scopes import Month, Scope
from syndicator.store.models import Event, Release, ReleaseCategory, Taxon

__all__ = [
    "RETRACTION_WINDOW",
    "Cutoff",
    "ReleaseHistory",
    "all_scopes",
    "archived_in_month",
    "cutoff_of",
    "history_of",
    "live_releases",
    "months_near_boundary",
    "newer_archived_month",
    "newest_archived_month",
    "older_archived_month",
    "recent_retractions",
    "releases_by_id",
    "scopes_named",
]

_LIVE = Release.retracted_at.is_(None)
# How many of the newest retractions (site-wide) are candidates for a feed's tombstones.
RETRACTION_WINDOW = 200
_NEWEST_FIRST = (Release.published_at.desc(), Release.id.desc())
_NEWEST_IN_CATEGORY = (ReleaseCategory.published_at.desc(), ReleaseCategory.release_id.desc())


@dataclass(frozen=True)
class Cutoff:
    """The oldest release still in the site live feed; everything older is archived."""

    published_at: datetime
    id: int


def cutoff_of(site_live: Sequence[Release], feed_size: int) -> Cutoff | None:
    """None while the live feed is not full: then nothing is archived."""
    if len(site_live) < feed_size or not site_live:
        return None
    last = site_live[-1]
    return Cutoff(last.published_at, last.id)


def _archived(cutoff: Cutoff) -> ColumnElement[bool]:
    # Spelled out rather than a row-value comparison so every backend can seek the index.
    older = or_(
        Release.published_at < cutoff.published_at,
        and_(Release.published_at == cutoff.published_at, Release.id < cutoff.id),
    )
    return and_(_LIVE, older)


def _in_scope(query: Select[Any], scope: Scope) -> Select[Any]:
    if scope.kind == "department":
        return query.where(Release.department_slug == scope.slug)
    if scope.kind == "category":
        return query.join(ReleaseCategory, ReleaseCategory.release_id == Release.id).where(
            ReleaseCategory.slug == scope.slug
        )
    return query


def _rows_in_order(session: Session, ids: Sequence[int], order: Sequence[Any]) -> list[Release]:
    if not ids:
        return []
    return list(session.scalars(select(Release).where(Release.id.in_(ids)).order_by(*order)))


def live_releases(session: Session, scope: Scope, limit: int) -> list[Release]:
    if scope.kind == "site":
        query = select(Release).where(_LIVE).order_by(*_NEWEST_FIRST).limit(limit)
        return list(session.scalars(query))
    # Ids first, in the order of the scope's own index (ix_releases_department_live,
    # ix_release_categories_newest), then the rows: the scan stops after ``limit`` entries.
    order = _NEWEST_IN_CATEGORY if scope.kind == "category" else _NEWEST_FIRST
    ids = _in_scope(select(Release.id).where(_LIVE), scope).order_by(*order).limit(limit)
    return _rows_in_order(session, list(session.scalars(ids)), _NEWEST_FIRST)


def recent_retractions(session: Session, scope: Scope, limit: int) -> list[Release]:
    """The newest retractions in ``scope``, looked for among the newest RETRACTION_WINDOW
    site-wide (an index range), so the cost does not grow with the scope's history."""
    order = (Release.retracted_at.desc(), Release.id.desc())
    window = (
        select(Release.id)
        .where(Release.retracted_at.is_not(None))
        .order_by(*order)
        .limit(RETRACTION_WINDOW)
    )
    ids = _in_scope(select(Release.id).where(Release.id.in_(window.scalar_subquery())), scope)
    ids = ids.order_by(*order).limit(limit)
    return _rows_in_order(session, list(session.scalars(ids)), order)


def archived_in_month(session: Session, month: Month, cutoff: Cutoff | None) -> list[Release]:
    if cutoff is None:
        return []
    query = select(Release).where(
        _archived(cutoff), Release.published_at >= month.start, Release.published_at < month.end
    )
    return list(session.scalars(query.order_by(*_NEWEST_FIRST)))


def _month_of_first(session: Session, query: Select[Any]) -> Month | None:
    found = session.scalar(query.limit(1))
    return Month.of(found) if found is not None else None


def newest_archived_month(session: Session, cutoff: Cutoff | None) -> Month | None:
    if cutoff is None:
        return None
    query = select(Release.published_at).where(_archived(cutoff)).order_by(*_NEWEST_FIRST)
    return _month_of_first(session, query)


def older_archived_month(session: Session, month: Month, cutoff: Cutoff | None) -> Month | None:
    """The nearest month before ``month`` that has an archive document."""
    if cutoff is None:
        return None
    query = (
        select(Release.published_at)
        .where(_archived(cutoff), Release.published_at < month.start)
        .order_by(*_NEWEST_FIRST)
    )
    return _month_of_first(session, query)


def newer_archived_month(session: Session, month: Month, cutoff: Cutoff | None) -> Month | None:
    """The nearest month after ``month`` that has an archive document."""
    if cutoff is None:
        return None
    query = (
        select(Release.published_at)
        .where(_archived(cutoff), Release.published_at >= month.end)
        .order_by(Release.published_at.asc(), Release.id.asc())
    )
    return _month_of_first(session, query)


def months_near_boundary(session: Session, feed_size: int, spread: int) -> set[Month]:
    """Months of the releases at positions feed_size +- spread: the ones a change of
    ``spread`` releases can have pushed across the live/archive boundary."""
    start = max(0, feed_size - spread)
    query = (
        select(Release.published_at)
        .where(_LIVE)
        .order_by(*_NEWEST_FIRST)
        .offset(start)
        .limit(feed_size + spread - start)
    )
    return {Month.of(when) for when in session.scalars(query)}


def releases_by_id(session: Session, ids: Iterable[int]) -> list[Release]:
    return list(session.scalars(select(Release).where(Release.id.in_(list(ids)))))


@dataclass(frozen=True)
class ReleaseHistory:
    """Where the given releases ever were, from the applied events that shaped them."""

    departments: frozenset[str]
    categories: frozenset[str]
    published: frozenset[datetime]


def history_of(session: Session, ids: Iterable[int]) -> ReleaseHistory:
    query = select(Event.payload).where(Event.release_id.in_(list(ids)), Event.outcome == "applied")
    departments: set[str] = set()
    categories: set[str] = set()
    published: set[datetime] = set()
    for payload in session.scalars(query):
        release = payload.get("release") or {}
        if release.get("department"):
            departments.add(release["department"])
        categories.update(c for c in release.get("categories") or () if c)
        if release.get("published_at"):
            published.add(datetime.fromisoformat(release["published_at"]))
    return ReleaseHistory(frozenset(departments), frozenset(categories), frozenset(published))


def scopes_named(session: Session, kind: str, names: Iterable[str]) -> set[Scope]:
    query = select(Taxon.slug, Taxon.name).where(Taxon.kind == kind, Taxon.name.in_(list(names)))
    return {_scope(kind, slug, name) for slug, name in session.execute(query)}


def all_scopes(session: Session) -> list[Scope]:
    query = select(Taxon.kind, Taxon.slug, Taxon.name).order_by(Taxon.kind, Taxon.slug)
    return [_scope(kind, slug, name) for kind, slug, name in session.execute(query)]


def _scope(kind: str, slug: str, name: str) -> Scope:
    if kind == "department":
        return Scope("department", slug, name)
    if kind == "category":
        return Scope("category", slug, name)
    raise ValueError(f"unknown taxon kind {kind!r}")
