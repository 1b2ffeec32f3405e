"""The soak's end checks: is everything drained, and do the logs hold an error.

Drained means what `syndicator status` reads (runtime/status.py): every queue empty with
nothing unacknowledged, no outbox row waiting for the relay or for its fan-out, and no
ledger row pending or claimed (``in_progress``). Heartbeats and sweeps pass through the
queues every few seconds, so the check polls until one reading finds all of it at zero.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis
from sqlalchemy import func, select

from syndicator.intake.outbox import awaiting_fanout, backlog
from syndicator.ledger.targets import counts_by_status
from syndicator.runtime.status import queue_depths
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, Event

__all__ = [
    "ChannelTimes",
    "DrainState",
    "LogFindings",
    "channel_times",
    "drain_state",
    "scan_logs",
    "wait_drained",
]

UNFINISHED = ("pending", "in_progress")
# The text log format (logs.py): "<time> <LEVEL> <logger> <message>".
_LEVEL = re.compile(r"^\S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
# Redis has no error level: an error names itself, and a warning says WARNING.
_REDIS_WARNING = re.compile(r" # WARNING")


@dataclass(frozen=True)
class DrainState:
    queued: dict[str, int]
    unacked: int
    outbox_backlog: int
    awaiting_fanout: int
    deliveries: dict[str, dict[str, int]]  # channel -> status -> rows

    @property
    def unfinished(self) -> int:
        return sum(n for by in self.deliveries.values() for s, n in by.items() if s in UNFINISHED)

    @property
    def drained(self) -> bool:
        return not (
            sum(self.queued.values())
            or self.unacked
            or self.outbox_backlog
            or self.awaiting_fanout
            or self.unfinished
        )

    def delivered(self, channel: str) -> int:
        return self.deliveries.get(channel, {}).get("succeeded", 0)

    def summary(self) -> str:
        ledger = "; ".join(
            f"{channel} " + ", ".join(f"{s} {n:,}" for s, n in sorted(by.items()))
            for channel, by in sorted(self.deliveries.items())
        )
        return (
            f"queues {sum(self.queued.values())} (+{self.unacked} unacked), "
            f"outbox {self.outbox_backlog} waiting + {self.awaiting_fanout} awaiting fan-out, "
            f"ledger: {ledger or 'empty'}"
        )


def drain_state(db: Database, client: redis.Redis) -> DrainState:
    queued, unacked = queue_depths(client)
    count, _ = backlog(db)
    awaiting = awaiting_fanout(db)
    with db.read_session() as session:
        counts = counts_by_status(session)
    deliveries: dict[str, dict[str, int]] = {}
    for (channel, status), n in counts.items():
        deliveries.setdefault(channel, {})[status] = n
    return DrainState(queued, unacked, count, awaiting, deliveries)


def wait_drained(db: Database, client: redis.Redis, seconds: float) -> DrainState:
    """Poll until drained or ``seconds`` pass; the last reading either way."""
    deadline = time.monotonic() + seconds
    while True:
        state = drain_state(db, client)
        if state.drained or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


@dataclass(frozen=True)
class LogFindings:
    errors: list[str]  # ERROR or CRITICAL lines, tracebacks, Redis errors
    warnings: list[str]
    lines: int


def scan_logs(system_log: Path, redis_log: Path | None) -> LogFindings:
    errors: list[str] = []
    warnings: list[str] = []
    lines = 0
    with system_log.open(encoding="utf-8", errors="replace") as log:  # streamed: it is long
        for raw in log:
            line = raw.rstrip("\n")
            lines += 1
            match = _LEVEL.match(line)
            level = match[1] if match else None
            if level in ("ERROR", "CRITICAL") or line.startswith("Traceback"):
                errors.append(line)
            elif level == "WARNING" or (level is None and "Warning:" in line):
                warnings.append(line)
    if redis_log is not None and redis_log.exists():
        for line in redis_log.read_text(errors="replace").splitlines():
            lines += 1
            if "error" in line.lower():
                errors.append(f"redis: {line}")
            elif _REDIS_WARNING.search(line):
                warnings.append(f"redis: {line}")
    return LogFindings(errors, warnings, lines)


@dataclass(frozen=True)
class ChannelTimes:
    """Per channel, over the events received since a moment: how long each took."""

    channel: str
    events: int
    deliveries: int
    # From the hook's commit to the event's last attempt in this channel, seconds.
    latency_median: float
    latency_max: float
    # From the event's first attempt to its last: deliveries per second while it sent.
    rate_median: float

    def line(self) -> str:
        sending = f"; while sending, median {self.rate_median:,.0f}/s" if self.rate_median else ""
        return (
            f"{self.channel}: {self.events:,} releases, {self.deliveries:,} deliveries; "
            f"publish→last delivery median {self.latency_median:.1f} s, max "
            f"{self.latency_max:.1f} s{sending}"
        )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def channel_times(db: Database, since: datetime) -> list[ChannelTimes]:
    with db.read_session() as session:
        rows = session.execute(
            select(
                Delivery.channel,
                Event.received_at,
                func.count(DeliveryAttempt.id),
                func.min(DeliveryAttempt.started_at),
                func.max(DeliveryAttempt.started_at),
            )
            .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
            .join(Event, Event.id == Delivery.event_id)
            .where(Event.received_at >= since)
            .group_by(Delivery.channel, Delivery.event_id, Event.received_at)
        ).all()
    by_channel: dict[str, list[tuple[datetime, int, datetime, datetime]]] = {}
    for channel, received, count, first, last in rows:
        by_channel.setdefault(channel, []).append((_utc(received), count, _utc(first), _utc(last)))
    times = []
    for channel, events in sorted(by_channel.items()):
        latencies = [(last - received).total_seconds() for received, _, _, last in events]
        rates = [
            count / max((last - first).total_seconds(), 0.001)
            for _, count, first, last in events
            if count > 1
        ]
        times.append(
            ChannelTimes(
                channel,
                len(events),
                sum(count for _, count, _, _ in events),
                statistics.median(latencies),
                max(latencies),
                statistics.median(rates) if rates else 0.0,
            )
        )
    return times
