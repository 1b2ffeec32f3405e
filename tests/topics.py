"""Departments and categories a release has named: the only ones anyone may subscribe to."""

from __future__ import annotations

from collections.abc import Iterable

from syndicator.store.db import Database
from syndicator.store.taxonomy import slug_for

CATEGORIES = ("경제", "복지", "보건")
DEPARTMENTS = ("위생정책과", "복지정책과")


def name_topics(
    db: Database, categories: Iterable[str] = CATEGORIES, departments: Iterable[str] = DEPARTMENTS
) -> None:
    """Store the names as an intake would the first time a release uses them."""
    with db.session() as session:
        for name in categories:
            slug_for(session, "category", name)
        for name in departments:
            slug_for(session, "department", name)
