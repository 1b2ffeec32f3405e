"""Settling a batch: its outcomes recorded, its rows never started handed back, and after a
failure its rows in flight put back with a due time.

A batch that cannot settle (the database is down, or SQLite's write lock is held past the
busy timeout) keeps what it knows in its process: ``keep`` holds the settlement, and
``settle_kept`` (called by the process's heartbeat once the database answers it, and before
each new batch) writes it. Its rows stay claimed by a live worker meanwhile, so nobody
else takes them: no outcome is lost and nothing is sent twice, and they come back as soon
as the database does rather than after the claim lease. A process that dies with a
settlement kept is a lost worker like any other (ledger/claimers.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from syndicator.delivery.recorder import Recorder
from syndicator.delivery.unstarted import Unstarted
from syndicator.ledger.claims import Claimed, release, reschedule_held
from syndicator.logs import kv
from syndicator.store.db import Database
from syndicator.store.models import utcnow

__all__ = ["FAILED_BATCH_RETRY", "Settlement", "keep", "kept", "settle_kept"]

log = logging.getLogger("syndicator.delivery")

# The rows a failed batch had in flight are due again this much later.
FAILED_BATCH_RETRY = timedelta(seconds=5)


@dataclass
class Settlement:
    """What one batch owes the ledger when it stops."""

    db: Database
    recorder: Recorder
    unstarted: Unstarted
    failed: bool  # the batch raised: rows still held were in flight

    def settle(self) -> list[int]:
        """Record what is buffered, hand back the rows never started (due now, attempt
        refunded) and, after a failure, the rows still held (due shortly, attempt spent).
        Returns the ids handed back unstarted. Safe to call again after it raised: every
        write is conditional on the claim, and the recorder keeps what did not commit."""
        unreached = self.unstarted.rows()
        self.recorder.flush()
        if unreached:
            with self.db.session() as session:
                for token, rows in _by_token(unreached).items():
                    release(session, token, rows)
        if self.failed:
            at = utcnow() + FAILED_BATCH_RETRY
            with self.db.session() as session:
                held = sum(reschedule_held(session, t, at) for t in self.unstarted.tokens)
            if held:
                log.info(kv(msg="failed batch handed back", rows_in_flight=held))
        return [job.delivery_id for job in unreached]


def _by_token(jobs: Sequence[Claimed]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for job in jobs:
        grouped.setdefault(job.token, []).append(job.delivery_id)
    return grouped


# This process's settlements waiting for the database; a forked child starts empty (the
# parent never runs a batch before it forks).
_kept: list[Settlement] = []
# One settler at a time: the heartbeat thread and a new batch may both try.
_lock = threading.Lock()


def keep(settlement: Settlement) -> None:
    with _lock:
        _kept.append(settlement)
    log.warning(
        kv(
            msg="batch kept until the database answers",
            channel=settlement.recorder.channel.name,
            outcomes=settlement.recorder.buffered,
            unstarted=len(settlement.unstarted),
        )
    )


def kept() -> int:
    """How many settlements this process still holds."""
    with _lock:
        return len(_kept)


def settle_kept() -> int:
    """Write every kept settlement, oldest first, stopping at the first that fails (the
    database is still away: the next call tries again). Returns how many were written."""
    done = 0
    with _lock:
        while _kept:
            settlement = _kept[0]
            try:
                settlement.settle()
            except Exception as exc:
                log.warning(kv(msg="kept batch not settled yet", error=type(exc).__name__))
                break
            _kept.pop(0)
            done += 1
    if done:
        log.info(kv(msg="kept batches settled", batches=done))
    return done
