"""Old scope slugs, answered with a permanent redirect to the scope's slug today.

Feed URLs are pasted into readers and printed on the city's pages, so a slug that changed
(the move to the Revised Romanization) keeps answering 301 for good. Only paths that are
not found come here, so the alias map is read rarely: at most once per ``refresh_seconds``.
"""

from __future__ import annotations

import re
import time

from starlette.concurrency import run_in_threadpool

from syndicator.store.db import Database
from syndicator.store.taxonomy import alias_targets

__all__ = ["AliasMap"]

_SCOPED = re.compile(r"(departments|categories)/([a-z0-9][a-z0-9-]*)/(.*)", re.DOTALL)
_KINDS = {"departments": "department", "categories": "category"}


class AliasMap:
    def __init__(self, db: Database, refresh_seconds: float = 30.0) -> None:
        self.db = db
        self.refresh_seconds = refresh_seconds
        self._targets: dict[tuple[str, str], str] = {}
        self._loaded_at: float | None = None

    async def moved(self, relative: str) -> str | None:
        """The path ``relative`` (``departments/<old>/rss.xml``) moved to, if it did."""
        match = _SCOPED.fullmatch(relative)
        if match is None:
            return None
        directory, slug, rest = match.groups()
        now = time.monotonic()
        if self._loaded_at is None or now - self._loaded_at >= self.refresh_seconds:
            self._targets = await run_in_threadpool(self._load)
            self._loaded_at = now
        new = self._targets.get((_KINDS[directory], slug))
        return f"{directory}/{new}/{rest}" if new else None

    def _load(self) -> dict[tuple[str, str], str]:
        with self.db.replica_session() as session:
            return alias_targets(session)
