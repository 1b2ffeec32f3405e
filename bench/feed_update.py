"""Update cost against history size: one publish must cost about the same whatever is stored.

Two stores hold the same newest 100 releases; the large one also holds 9,900 older ones
(10,000 in all, ~8 years at 100 a month). The site's live feeds and boundary archive month
are therefore identical in both. Departments and categories differ: with 100 stored none has
more than a live feed's worth of releases, with 10,000 each also has archives, so each
publish there also rewrites the department's and category's boundary archive month (the
"documents rewritten" count shows it). The ratio includes that extra work.

Each round stores one new newest release (not timed) and times ``publish_changes`` for it,
alternating between the stores so drift hits both alike. The ceiling is the small store's
median, measured in the same run. A backdated publish (into the oldest archived month) is
reported for information.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.common import synthetic_event, synthetic_events, timed, verdict
from syndicator.config import Settings, load_settings
from syndicator.events.schema import CmsEvent
from syndicator.feeds.publish import publish_changes, rebuild_all
from syndicator.feeds.scopes import SITE, Month
from syndicator.feeds.urls import archive_path
from syndicator.intake.accept import import_events, store_event
from syndicator.store import documents
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade

SMALL, LARGE = 100, 10_000
REPEATS = 15
CEILING = 1.5
BACKDATED_FIRST_ID = 50_000


@dataclass
class Store:
    name: str
    settings: Settings
    db: Database
    oldest: CmsEvent

    def publish(self, event: CmsEvent, feed: str) -> tuple[float, int]:
        """Store ``event`` (not timed), then time the feed update; check ``feed`` has it."""
        release = event.release
        with self.db.session() as session:
            store_event(
                session, event, webhook_id=f"bench:{release.id}", source="hook", enqueue=False
            )
        changed: list[str] = []

        def update() -> None:
            changed.extend(publish_changes(self.db, self.settings, [release.id]))

        seconds = timed(update)
        needle = f"보도자료 {release.id}호".encode()
        with self.db.session() as session:
            stored = documents.load(session, feed)
        assert stored is not None and needle in stored.body, (self.name, feed)
        return seconds, len(changed)


def _open_store(tmp: str, name: str, events: list[CmsEvent]) -> Store:
    settings = load_settings({"SYNDICATOR_DATA_DIR": str(Path(tmp, name))})
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    import_events(db, events)
    rebuild_all(db, settings)
    return Store(name, settings, db, events[0])


def _backdated(store: Store, k: int) -> tuple[CmsEvent, str]:
    """A new release a few minutes after the store's oldest: its oldest archived month."""
    when = store.oldest.release.published_at + timedelta(minutes=k + 1)
    return synthetic_event(BACKDATED_FIRST_ID + k, when, k), archive_path(SITE, Month.of(when))


def _rounds(
    stores: list[Store], make: Callable[[Store, int], tuple[CmsEvent, str]], first: int
) -> dict[str, tuple[list[float], list[int]]]:
    results: dict[str, tuple[list[float], list[int]]] = {s.name: ([], []) for s in stores}
    for k in range(first, REPEATS):
        for store in stores:
            seconds, changed = store.publish(*make(store, k))
            if k >= 0:
                results[store.name][0].append(seconds)
                results[store.name][1].append(changed)
    return results


def _report(label: str, results: dict[str, tuple[list[float], list[int]]]) -> list[float]:
    medians = []
    for name, (seconds, changed) in results.items():
        median = statistics.median(seconds) * 1000
        medians.append(median)
        print(
            f"feed update: {label}, {name}: median {median:.1f} ms "
            f"(min {min(seconds) * 1000:.1f}, max {max(seconds) * 1000:.1f}) over {len(seconds)}, "
            f"{statistics.median(changed):.0f} documents rewritten"
        )
    return medians


def main() -> bool:
    # Releases are numbered in publication order: index 10,000 on are newer than all stored.
    events = list(synthetic_events(LARGE + 1 + REPEATS))
    with tempfile.TemporaryDirectory() as tmp:
        stores = [
            _open_store(tmp, f"{SMALL:,} stored", events[LARGE - SMALL : LARGE]),
            _open_store(tmp, f"{LARGE:,} stored", events[:LARGE]),
        ]
        try:
            newest = events[LARGE:]
            # k = -1 is a warm-up (the first render in the process), not counted.
            new = _rounds(stores, lambda _store, k: (newest[k + 1], "rss.xml"), -1)
            old = _rounds(stores, _backdated, 0)
        finally:
            for store in stores:
                store.db.dispose()
    small, large = _report("new newest release", new)
    _report("backdated release (oldest archived month, no target)", old)
    ratio = large / small
    print(
        f"feed update: ratio {LARGE:,}/{SMALL:,} stored = {ratio:.2f} "
        f"(ceiling {CEILING}, flat is 1) {verdict(ratio, CEILING)}"
    )
    return ratio <= CEILING


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
