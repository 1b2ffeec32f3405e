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
from syndicator.ledger.quarantine import not_quarantined
from syndicator.store.models import Event, Release, ReleaseCategory, Taxon

__all__ = [
    "CHANNEL",
    "RETRACTION_WINDOW",
    "SITE_TARGET",
    "Cutoff",
    "ReleaseHistory",
    "all_scopes",
    "archived_in_month",
    "category_slugs",
    "cutoff_of",
    "history_of",
    "live_releases",
    "newer_archived_month",
    "older_archived_month",
    "recent_retractions",
    "releases_by_id",
    "retracted_in_month",
    "scopes_named",
]

# The ledger's name for this channel: what it quarantines, feeds leave out.
CHANNEL = "feeds"
# Its one target: a render covers every feed document.
SITE_TARGET = "site"
_RENDERABLE = not_quarantined(CHANNEL)
_LIVE = and_(Release.retracted_at.is_(None), _RENDERABLE)
# How many of the newest retractions (site-wide) are candidates for a feed's tombstones.
RETRACTION_WINDOW = 200
_NEWEST_FIRST = (Release.published_at.desc(), Release.id.desc())


@dataclass(frozen=True)
class Cutoff:
    """The oldest release still in a scope's live feed; everything older is archived.

    A scope's live feed holds its own newest releases, so its cutoff is never newer than
    the site's: whatever a scope archives, the site archives too, in the same month.
    """

    published_at: datetime
    id: int

    def archives(self, release: Release) -> bool:
        return (release.published_at, release.id) < (self.published_at, self.id)


def cutoff_of(live: Sequence[Release], feed_size: int) -> Cutoff | None:
    """None while the live feed is not full: then nothing is archived."""
    if len(live) < feed_size or not live:
        return None
    last = live[-1]
    return Cutoff(last.published_at, last.id)


def _timeline(scope: Scope) -> tuple[Any, Any]:
    """The (published, id) columns a scope's feed is ordered by: its own index's columns."""
    if scope.kind == "category":
        return ReleaseCategory.published_at, ReleaseCategory.release_id
    return Release.published_at, Release.id


def _archived(scope: Scope, cutoff: Cutoff) -> ColumnElement[bool]:
    # Spelled out rather than a row-value comparison so every backend can seek the index.
    published, ident = _timeline(scope)
    older = or_(
        published < cutoff.published_at,
        and_(published == cutoff.published_at, ident < cutoff.id),
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
    ids = _in_scope(select(Release.id).where(_LIVE), scope)
    ids = ids.order_by(*_newest_first(scope)).limit(limit)
    return _rows_in_order(session, list(session.scalars(ids)), _NEWEST_FIRST)


def recent_retractions(session: Session, scope: Scope, limit: int) -> list[Release]:
    """The newest retractions in ``scope``, looked for among the newest RETRACTION_WINDOW
    site-wide (an index range), so the cost does not grow with the scope's history."""
    order = (Release.retracted_at.desc(), Release.id.desc())
    window = (
        select(Release.id)
        .where(Release.retracted_at.is_not(None), _RENDERABLE)
        .order_by(*order)
        .limit(RETRACTION_WINDOW)
    )
    ids = _in_scope(select(Release.id).where(Release.id.in_(window.scalar_subquery())), scope)
    ids = ids.order_by(*order).limit(limit)
    return _rows_in_order(session, list(session.scalars(ids)), order)


def archived_in_month(
    session: Session, scope: Scope, month: Month, cutoff: Cutoff | None
) -> list[Release]:
    if cutoff is None:
        return []
    published, _ = _timeline(scope)
    query = _in_scope(select(Release), scope).where(
        _archived(scope, cutoff), published >= month.start, published < month.end
    )
    return list(session.scalars(query.order_by(*_NEWEST_FIRST)))


def retracted_in_month(
    session: Session, scope: Scope, month: Month, cutoff: Cutoff | None
) -> list[Release]:
    """Releases of an archived month that were retracted: the archive shows their notice."""
    if cutoff is None:
        return []
    published, ident = _timeline(scope)
    older = or_(
        published < cutoff.published_at,
        and_(published == cutoff.published_at, ident < cutoff.id),
    )
    query = _in_scope(select(Release), scope).where(
        Release.retracted_at.is_not(None),
        _RENDERABLE,
        older,
        published >= month.start,
        published < month.end,
    )
    return list(session.scalars(query.order_by(*_NEWEST_FIRST)))


def _month_of_first(session: Session, query: Select[Any]) -> Month | None:
    found = session.scalar(query.limit(1))
    return Month.of(found) if found is not None else None


def _archived_months(scope: Scope, cutoff: Cutoff, *where: ColumnElement[bool]) -> Select[Any]:
    published, _ = _timeline(scope)
    # FROM releases even when ordering by the category index: _in_scope joins from it.
    query = select(published).select_from(Release)
    return _in_scope(query, scope).where(_archived(scope, cutoff), *where)


def _newest_first(scope: Scope) -> tuple[Any, ...]:
    published, ident = _timeline(scope)
    return (published.desc(), ident.desc())


def older_archived_month(
    session: Session, scope: Scope, month: Month, cutoff: Cutoff | None
) -> Month | None:
    """The nearest month before ``month`` that has an archive document in ``scope``."""
    if cutoff is None:
        return None
    published, _ = _timeline(scope)
    query = _archived_months(scope, cutoff, published < month.start)
    return _month_of_first(session, query.order_by(*_newest_first(scope)))


def newer_archived_month(
    session: Session, scope: Scope, month: Month, cutoff: Cutoff | None
) -> Month | None:
    """The nearest month after ``month`` that has an archive document in ``scope``."""
    if cutoff is None:
        return None
    published, ident = _timeline(scope)
    query = _archived_months(scope, cutoff, published >= month.end)
    return _month_of_first(session, query.order_by(published.asc(), ident.asc()))


def category_slugs(session: Session, ids: Sequence[int]) -> dict[int, set[str]]:
    """The category slugs of each of these releases."""
    found: dict[int, set[str]] = {}
    if ids:
        query = select(ReleaseCategory.release_id, ReleaseCategory.slug).where(
            ReleaseCategory.release_id.in_(list(ids))
        )
        for release_id, slug in session.execute(query):
            found.setdefault(release_id, set()).add(slug)
    return found


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
