"""The database: PostgreSQL restarted in the middle of a newsletter and a fan-out, and
SQLite held busy by another writer. Readiness names the database while it is away or
locked, and everything is delivered once it is back."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tests.chaos.services import PG_BIN, postgres_cluster
from tests.chaos.support import chaos_system, ride_out, scaled_seconds

# Longer than SQLite's busy timeout (store/db.py): the hook waits up to that for the lock.
BUSY_WAIT = 60.0


@pytest.mark.skipif(
    not (PG_BIN / "pg_ctl").exists(), reason=f"no PostgreSQL server binaries in {PG_BIN}"
)
def test_a_postgresql_restart_mid_flight_loses_nothing(
    tmp_path: Path, redis_url: str, cms_secret: str
) -> None:
    with (
        postgres_cluster() as cluster,
        chaos_system(tmp_path, cluster.url, redis_url, cms_secret) as chaos,
    ):
        chaos.publish(1)
        ride_out(
            chaos,
            "postgresql-restart",
            stop=cluster.stop,
            start=cluster.start,
            cause="database",
            seconds=scaled_seconds(30, 2),
            before_the_lease=True,
        )


def test_sqlite_held_busy_by_another_writer_mid_flight_loses_nothing(
    tmp_path: Path, sqlite_url: str, redis_url: str, cms_secret: str
) -> None:
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    stored: list[str] = []
    with chaos_system(tmp_path, sqlite_url, redis_url, cms_secret) as chaos:
        # A publish while the lock is held waits for it (the busy timeout), then is stored:
        # its sender waits as long (a shorter timeout would only send it again).
        publishing = threading.Thread(
            target=lambda: stored.append(chaos.publish(2, timeout=BUSY_WAIT)), daemon=True
        )
        chaos.publish(1)
        ride_out(
            chaos,
            "sqlite-busy",
            stop=lambda: writer.execute("BEGIN IMMEDIATE"),  # another writer holds the lock
            start=lambda: (writer.execute("ROLLBACK"), publishing.join(timeout=60)),
            cause="locked for writing",
            # Under the 30 s busy timeout at full scale too: writers wait, none fails.
            seconds=scaled_seconds(20, 4),
            while_down=publishing.start,
            before_the_lease=True,
        )
        assert len(stored) == 1, "the publish made while the lock was held was accepted"
    writer.close()
