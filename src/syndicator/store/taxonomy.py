"""Stable ASCII slugs for Korean department and category names.

A slug is fixed the first time a name is seen and stored, so a later change in
transliteration never moves a subscriber's feed URL.
"""

from __future__ import annotations

import hashlib

from slugify import slugify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator.store.models import Taxon

__all__ = ["proposed_slug", "slug_for"]


def proposed_slug(name: str) -> str:
    return slugify(name, max_length=60, word_boundary=True) or "x"


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
    taken = session.scalar(select(Taxon.id).where(Taxon.kind == kind, Taxon.slug == slug))
    if taken is not None:
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
