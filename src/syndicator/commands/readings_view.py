"""``syndicator status``: the numbers /metrics exports, as tables."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from syndicator.ops.readings import Readings

__all__ = ["print_queues", "print_readings"]


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f}"


def print_queues(console: Console, readings: Readings) -> None:
    """The one queue table ``status`` prints (the numbers /metrics exports)."""
    if readings.queues is not None:
        queues = Table(
            "queue",
            "messages",
            "unacked",
            "oldest pending (s)",
            "workers (1 min)",
            "heartbeat (s ago)",
            title="Queues",
        )
        for q in readings.queues:
            queues.add_row(
                q.name,
                str(q.messages),
                str(q.unacked),
                _age(q.oldest_pending_seconds),
                str(q.consumers),
                _age(q.heartbeat_age_seconds),
            )
        console.print(queues)


def print_readings(console: Console, readings: Readings) -> None:
    """Everything else /metrics exports: channels, partners, subscribers, beat."""
    attempts: Counter[tuple[str, str]] = Counter()
    for tally in readings.tallies:
        attempts[tally.channel, tally.outcome] += tally.attempts
    channels = Table(
        "channel",
        "oldest pending (s)",
        "retries scheduled",
        "overdue",
        "attempts by outcome",
        title="Channels",
    )
    for c in readings.channels:
        outcomes = ", ".join(f"{o} {n}" for (ch, o), n in sorted(attempts.items()) if ch == c.name)
        channels.add_row(
            c.name,
            _age(c.oldest_pending_seconds),
            str(c.retries_scheduled),
            str(c.overdue),
            outcomes or "-",
        )
    console.print(channels)
    for c in readings.channels:
        if c.paused:
            why = c.pause_reason or "paused by an operator"
            console.print(f"{c.name} paused: {why}", highlight=False)
    mail = readings.newsletters
    console.print(
        f"newsletters, 7 days: {mail.sent_7d} sent, "
        + ", ".join(f"{k} {n} ({mail.rate_7d(k):.2%})" for k, n in mail.feedback_7d.items()),
        highlight=False,
    )
    console.print(
        "partners: " + ", ".join(f"{k} {v}" for k, v in readings.partners.items()),
        highlight=False,
    )
    console.print(
        "subscribers: " + ", ".join(f"{k} {v}" for k, v in readings.subscribers.items()),
        highlight=False,
    )
    console.print(f"beat heartbeat (s ago): {_age(readings.beat_age_seconds)}", highlight=False)
