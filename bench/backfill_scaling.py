"""Backfill scaling: importing 10,000 releases must cost at most 12x importing 1,000."""

from __future__ import annotations

import tempfile

from bench.common import synthetic_events, timed, verdict
from syndicator.config import load_settings
from syndicator.feeds.publish import rebuild_all
from syndicator.intake.accept import import_events
from syndicator.store import documents
from syndicator.store.db import Database
from syndicator.store.migrate import upgrade

CEILING = 12.0


def import_cost(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"SYNDICATOR_DATA_DIR": tmp})
        upgrade(settings.database_url)
        db = Database(settings.database_url)
        events = list(synthetic_events(count))

        def run() -> None:
            import_events(db, events)
            rebuild_all(db, settings)

        seconds = timed(run)
        with db.session() as session:
            assert documents.load(session, "rss.xml") is not None
        db.dispose()
        return seconds


def main() -> bool:
    small, large = import_cost(1_000), import_cost(10_000)
    ratio = large / small
    print(
        f"backfill: 1,000 releases {small:.2f} s, 10,000 releases {large:.2f} s "
        f"({10_000 / large:.0f} releases/s)"
    )
    print(
        f"backfill: ratio 10,000/1,000 = {ratio:.2f} (ceiling {CEILING:.0f}, linear is 10) "
        f"{verdict(ratio, CEILING)}"
    )
    return ratio <= CEILING


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
