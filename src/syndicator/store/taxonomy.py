"""Stable ASCII slugs for Korean department and category names.

A slug is fixed the first time a name is seen and stored, so a later change in
transliteration never moves a subscriber's feed URL. The one time slugs moved (to the
Revised Romanization, migration 0006) every old slug became an alias that redirects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator.store.models import Taxon, TaxonAlias
from syndicator.store.romanization import HANGUL_RUN, romanize_hangul

__all__ = ["KnownTopics", "alias_targets", "known_topics", "proposed_slug", "slug_for"]


def proposed_slug(name: str) -> str:
    """Hangul in the Revised Romanization, one word per run; the rest as python-slugify
    transliterates it (위생정책과 → ``wisaengjeongchaekgwa``)."""
    spaced = HANGUL_RUN.sub(lambda run: f" {romanize_hangul(run.group())} ", name)
    return slugify(spaced, max_length=60, word_boundary=True) or "x"


def _disambiguated(name: str) -> str:
    # Romanisation is lossy, so two names can meet; a hash of the name keeps them apart.
    return f"{proposed_slug(name)}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def slug_for(session: Session, kind: str, name: str) -> str:
    # Slugs never change once stored, so a session may remember them: a backfill
    # asks for the same few departments thousands of times.
    known: dict[tuple[str, str], str] = session.info.setdefault("taxon_slugs", {})
    if (kind, name) not in known:
        known[(kind, name)] = _stored_or_new(session, kind, name)
    return known[(kind, name)]


def _stored_or_new(session: Session, kind: str, name: str) -> str:
    existing = session.scalar(select(Taxon.slug).where(Taxon.kind == kind, Taxon.name == name))
    if existing is not None:
        return existing
    slug = proposed_slug(name)
    if _taken(session, kind, slug):
        slug = _disambiguated(name)
    try:
        with session.begin_nested():
            session.add(Taxon(kind=kind, name=name, slug=slug))
    except IntegrityError:
        # Another intake named it first; its slug wins.
        return session.scalars(
            select(Taxon.slug).where(Taxon.kind == kind, Taxon.name == name)
        ).one()
    return slug


def _taken(session: Session, kind: str, slug: str) -> bool:
    """A slug in use, or an old slug that redirects: a new scope never takes either."""
    in_use = select(Taxon.id).where(Taxon.kind == kind, Taxon.slug == slug)
    aliased = select(TaxonAlias.taxon_id).where(TaxonAlias.kind == kind, TaxonAlias.slug == slug)
    return session.scalar(in_use) is not None or session.scalar(aliased) is not None


def alias_targets(session: Session) -> dict[tuple[str, str], str]:
    """(kind, old slug) -> the slug its taxon has now."""
    rows = session.execute(
        select(TaxonAlias.kind, TaxonAlias.slug, Taxon.slug).join(
            Taxon, Taxon.id == TaxonAlias.taxon_id
        )
    )
    return {(kind, old): new for kind, old, new in rows}


@dataclass(frozen=True)
class KnownTopics:
    """Every department and category a release has named: what may be subscribed to."""

    categories: frozenset[str]
    departments: frozenset[str]

    def sorted(self, kind: str) -> list[str]:
        return sorted(self.categories if kind == "category" else self.departments)


def known_topics(session: Session) -> KnownTopics:
    """One query: a city has a few hundred departments and categories at most."""
    rows = session.execute(select(Taxon.kind, Taxon.name)).all()
    return KnownTopics(
        categories=frozenset(name for kind, name in rows if kind == "category"),
        departments=frozenset(name for kind, name in rows if kind == "department"),
    )
