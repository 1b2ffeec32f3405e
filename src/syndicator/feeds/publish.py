"""PLACEHOLDER, to be replaced by the feeds implementation (issue 3)."""

from __future__ import annotations

from collections.abc import Iterable

from syndicator.config import Settings
from syndicator.store.db import Database

__all__ = ["publish_changes", "rebuild_all"]


def publish_changes(db: Database, settings: Settings, release_ids: Iterable[int]) -> list[str]:
    """Re-render the documents these releases touch; return the absolute URLs that changed."""
    raise NotImplementedError


def rebuild_all(db: Database, settings: Settings) -> list[str]:
    """Render every document from the database (backfill, repair)."""
    raise NotImplementedError
