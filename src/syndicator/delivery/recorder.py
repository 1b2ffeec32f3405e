"""Progressive recording: outcomes reach the ledger as they arrive, not when a batch ends.

Outcomes are committed at least every ``flush_rows`` rows (the channel's, ``FLUSH_ROWS`` by
default) or ``FLUSH_SECONDS``, each flush in its own short transaction. A worker killed
mid-batch loses only the outcomes since the last flush, plus the rows in flight: those stay
claimed until the sweeper finds the worker gone and releases them (ledger/claimers.py), the
attempt counted, exactly like a row whose worker died while sending it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from syndicator.channels.base import Channel, DeliveryOutcome, RecordedAttempt
from syndicator.delivery.retries import next_attempt_at
from syndicator.ledger.attempts import AttemptRecord, record_claims
from syndicator.ledger.claims import Claimed, Deferral, defer
from syndicator.ledger.tallies import add_attempts
from syndicator.logs import kv
from syndicator.store.db import Database
from syndicator.store.models import utcnow
from syndicator.store.outage import RETRY_AFTER_SECONDS, is_unavailable

__all__ = ["FLUSH_ROWS", "FLUSH_SECONDS", "Recorder", "failure"]

log = logging.getLogger("syndicator.delivery")

FLUSH_ROWS = 100
FLUSH_SECONDS = 1.0

# (claim token, what to write, the row it is about)
_Entry = tuple[str, AttemptRecord | Deferral, Claimed]


class Recorder:
    """Buffers outcomes and writes them in small transactions. Not thread-safe: the sync
    runner and the event loop each use it from one thread, except :meth:`commit`, which
    an event loop runs in a thread (one at a time) while it goes on adding."""

    def __init__(self, db: Database, channel: Channel, trigger: str) -> None:
        self.db = db
        self.channel = channel
        self.trigger = trigger
        self.recorded = 0
        self._buffer: list[_Entry] = []
        self._last_flush = time.monotonic()

    def add(
        self, job: Claimed, outcome: DeliveryOutcome, started: datetime, duration_ms: float
    ) -> None:
        self._buffer.append((job.token, self._entry(job, outcome, started, duration_ms), job))

    @property
    def buffered(self) -> int:
        """Outcomes received and not committed yet."""
        return len(self._buffer)

    def due(self) -> bool:
        late = time.monotonic() - self._last_flush >= FLUSH_SECONDS
        return len(self._buffer) >= self.channel.flush_rows or (bool(self._buffer) and late)

    def flush(self, also: Callable[[Session], None] | None = None) -> None:
        """Commit what is buffered (and ``also``, in the same transaction). The buffer is
        emptied only once committed; a flush that failed can be tried again."""
        entries = self.take()
        try:
            self.commit(entries, also)
        except BaseException:
            self.restore(entries)
            raise

    def take(self) -> list[_Entry]:
        """Everything buffered, for :meth:`commit` (on another thread if need be): what
        is added meanwhile waits for the next flush."""
        entries, self._buffer = self._buffer, []
        return entries

    def restore(self, entries: list[_Entry]) -> None:
        """Put back what a failed :meth:`commit` took, ahead of what came since."""
        self._buffer[:0] = entries

    def commit(
        self, entries: Sequence[_Entry], also: Callable[[Session], None] | None = None
    ) -> None:
        """Write ``entries`` (and ``also``) in one transaction. It touches no buffer, so an
        event loop may run it in a thread while it keeps adding outcomes."""
        if entries or also:
            with self.db.session() as session:
                written = self._write(session, entries)
                if also:
                    also(session)
                # Last in the transaction: its row locks are held for the shortest time.
                add_attempts(
                    session,
                    self.channel.name,
                    [
                        (i.outcome, i.duration_ms)
                        for i, _ in written
                        if isinstance(i, AttemptRecord)
                    ],
                )
            self.recorded += len(written)
            self._log(written)
        self._last_flush = time.monotonic()

    def _log(self, written: Sequence[tuple[AttemptRecord | Deferral, Claimed]]) -> None:
        """A line per attempt or deferral; a channel that summarises its successes logs
        them in one line (each one at DEBUG, built only when that is shown)."""
        summarise = self.channel.summarise_successes
        each = log.isEnabledFor(logging.DEBUG)
        succeeded: Counter[str] = Counter()
        for item, job in written:
            if summarise and isinstance(item, AttemptRecord) and item.outcome == "succeeded":
                succeeded[job.event_id] += 1
                if each:
                    log.debug(_log_line(self.channel.name, item, job))
                continue
            log.info(_log_line(self.channel.name, item, job))
        for event_id, count in succeeded.items():
            log.info(
                kv(
                    msg="deliveries succeeded",
                    channel=self.channel.name,
                    count=count,
                    event_id=event_id,
                )
            )

    def _entry(
        self, job: Claimed, outcome: DeliveryOutcome, started: datetime, duration_ms: float
    ) -> AttemptRecord | Deferral:
        if outcome.not_before is not None:
            return Deferral(job.delivery_id, outcome.not_before, outcome.error_class or "-")
        duration = outcome.duration_ms if outcome.duration_ms is not None else duration_ms
        retry = None
        # A manual resend is tried once: an operator asked for it, and asks again if need be.
        manual = job.trigger == "manual"
        if not outcome.ok and outcome.retryable and outcome.final_status is None and not manual:
            delays = self.channel.retry_delays(job.target)
            retry = next_attempt_at(delays, job.attempt, utcnow(), outcome.retry_after)
        if outcome.ok:
            state = "succeeded"
        else:
            state = outcome.final_status or ("retrying" if retry else "failed")
        return AttemptRecord(
            job.delivery_id,
            job.attempt,
            state,
            started,
            duration,
            error_class=outcome.error_class,
            detail=outcome.detail,
            next_attempt_at=retry,
            trigger="manual" if manual else self.trigger,
            status_code=outcome.status_code,
            response=outcome.response,
            endpoint=outcome.endpoint,
            message_id=outcome.message_id,
        )

    def _write(
        self, session: Session, entries: Sequence[_Entry]
    ) -> list[tuple[AttemptRecord | Deferral, Claimed]]:
        jobs = {item.delivery_id: job for _, item, job in entries}
        records: dict[str, list[AttemptRecord]] = {}
        deferrals: dict[str, list[Deferral]] = {}
        for token, item, _ in entries:
            if isinstance(item, AttemptRecord):
                records.setdefault(token, []).append(item)
            else:
                deferrals.setdefault(token, []).append(item)
        applied: list[AttemptRecord | Deferral] = list(record_claims(session, records))
        for token, deferred in deferrals.items():
            applied += defer(session, token, deferred)
        written = [(item, jobs[item.delivery_id]) for item in applied]
        attempts = [
            RecordedAttempt(job, item) for item, job in written if isinstance(item, AttemptRecord)
        ]
        if attempts:
            self.channel.recorded(session, attempts)
        return written


def failure(job: Claimed, exc: BaseException) -> DeliveryOutcome:
    """A channel that raised: retryable, since a bug fix or the end of an outage heals it.
    The database away (a restart, a switchover) is no failure of the row: it waits a few
    seconds, its attempt refunded, as a deferral does."""
    if is_unavailable(exc):
        return DeliveryOutcome(
            job.delivery_id,
            ok=False,
            error_class="database_unavailable",
            detail=f"{type(exc).__name__}: {exc}"[:500],
            not_before=utcnow() + timedelta(seconds=RETRY_AFTER_SECONDS),
        )
    return DeliveryOutcome(
        job.delivery_id,
        ok=False,
        error_class=type(exc).__name__,
        detail=f"{type(exc).__name__}: {exc}",
    )


def _log_line(channel: str, item: AttemptRecord | Deferral, job: Claimed) -> str:
    """One line per attempt (or deferral), after it is committed. ``target`` is a reference."""
    if isinstance(item, Deferral):
        return kv(
            msg="delivery deferred",
            channel=channel,
            target=job.target,
            not_before=item.not_before.isoformat(timespec="seconds"),
            reason=item.reason,
            delivery_id=job.delivery_id,
            event_id=job.event_id,
        )
    return kv(
        msg="delivery attempt",
        channel=channel,
        target=job.target,
        outcome=item.outcome,
        attempt=job.attempt,
        duration_ms=f"{item.duration_ms:.1f}",
        delivery_id=job.delivery_id,
        event_id=job.event_id,
        error=item.error_class or "-",
    )
