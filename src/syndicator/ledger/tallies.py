"""Running totals of delivery attempts, kept in the database.

Counting ``delivery_attempts`` at every scrape would read the whole table, and attempt
retention deletes rows, so a count would fall. Instead the transaction that records
attempts adds them here, by (channel, outcome, duration bucket): a few rows per channel,
monotonic, and the same after any restart, on any host.

The buckets are part of the stored data: changing ``DURATION_BUCKETS`` needs a migration
that empties ``attempt_tallies``.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syndicator.store.models import AttemptTally

__all__ = ["DURATION_BUCKETS", "Tally", "add_attempts", "bucket_of", "read_tallies"]

# Upper bounds in seconds (Prometheus ``le``); the last, implicit bucket is +Inf. From a
# feed render (tens of ms) to a webhook that runs into its timeout.
DURATION_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_TABLE: Table = AttemptTally.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Tally:
    channel: str
    outcome: str
    bucket: int  # index into DURATION_BUCKETS; len(DURATION_BUCKETS) is +Inf
    attempts: int
    duration_seconds: float


def bucket_of(seconds: float) -> int:
    """The first bucket whose upper bound is >= ``seconds``."""
    return bisect.bisect_left(DURATION_BUCKETS, seconds)


def add_attempts(session: Session, channel: str, attempts: Iterable[tuple[str, float]]) -> None:
    """Add (outcome, duration in ms) pairs to the totals, in the caller's transaction.

    Rows are upserted in key order (one statement, its rows in order): concurrent
    recorders on PostgreSQL then take the row locks in the same order and never deadlock
    on each other.
    """
    counts: Counter[tuple[str, int]] = Counter()
    sums: dict[tuple[str, int], float] = {}
    for outcome, duration_ms in attempts:
        key = (outcome, bucket_of(duration_ms / 1000))
        counts[key] += 1
        sums[key] = sums.get(key, 0.0) + duration_ms / 1000
    if not counts:
        return
    rows = [
        {
            "channel": channel,
            "outcome": outcome,
            "bucket": bucket,
            "attempts": counts[outcome, bucket],
            "duration_seconds": sums[outcome, bucket],
        }
        for outcome, bucket in sorted(counts)
    ]
    session.execute(_upsert(session.get_bind().dialect.name), rows)


@cache
def _upsert(dialect: str) -> Any:
    """One statement per dialect, built once: every recording transaction runs it, and
    building it anew each time cost more than the write."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=["channel", "outcome", "bucket"],
        set_={
            "attempts": _TABLE.c.attempts + statement.excluded.attempts,
            "duration_seconds": _TABLE.c.duration_seconds + statement.excluded.duration_seconds,
        },
    )


def read_tallies(session: Session) -> list[Tally]:
    rows = session.execute(
        select(
            AttemptTally.channel,
            AttemptTally.outcome,
            AttemptTally.bucket,
            AttemptTally.attempts,
            AttemptTally.duration_seconds,
        ).order_by(AttemptTally.channel, AttemptTally.outcome, AttemptTally.bucket)
    )
    return [Tally(c, o, int(b), int(n), float(s)) for c, o, b, n, s in rows]
