"""The Prometheus exposition of one reading: pure, no I/O.

Names follow Prometheus conventions: the ``syndicator_`` prefix, base units (seconds),
``_total`` on counters, and labels drawn from small fixed sets (queue, channel, outcome,
state, kind), never ids, addresses or URLs. Every known label value is always exported,
at 0 when nothing happened, so ``rate()`` and alerts see a series from the start.

The counters and the duration histogram come from ``attempt_tallies``, which the
transaction recording each attempt updates: they survive restarts of any process, are the
same whichever web node is scraped, and never fall when old attempts are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from syndicator.channels.registry import CHANNEL_TYPES
from syndicator.ledger.tallies import DURATION_BUCKETS
from syndicator.mail.rates import FEEDBACK_KINDS
from syndicator.ops.readings import Readings
from syndicator.runtime.readiness import CAUSE_KINDS

__all__ = ["ATTEMPT_OUTCOMES", "CONTENT_TYPE", "exposition", "metric_families"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The ledger's attempt outcomes (ledger/attempts.py): what a ``_total`` series may be labelled.
ATTEMPT_OUTCOMES = ("succeeded", "retrying", "failed", "suppressed", "uncertain")


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"syndicator_{name}", doc, labels=labels)


# Per queue and per channel: (metric, help, the reading's attribute), in exposition order.
_QUEUE_GAUGES = (
    ("queue_messages", "Messages waiting in the queue (all priorities).", "messages"),
    ("queue_unacked_messages", "Messages a worker took, not acknowledged yet.", "unacked"),
    (
        "queue_oldest_pending_age_seconds",
        "How long the oldest work due on this queue has waited (0: none).",
        "oldest_pending_seconds",
    ),
    ("queue_consumers", "Workers seen consuming this queue in the last minute.", "consumers"),
    (
        "queue_heartbeat_age_seconds",
        "Seconds since a worker last proved it consumes this queue (absent: none in 45 s).",
        "heartbeat_age_seconds",
    ),
)
_CHANNEL_GAUGES = (
    (
        "channel_oldest_pending_age_seconds",
        "How long the channel's oldest due delivery has waited (0: none).",
        "oldest_pending_seconds",
    ),
    ("channel_retries_scheduled", "Deliveries waiting for a scheduled retry.", "retries_scheduled"),
    (
        "channel_deliveries_overdue",
        "Deliveries whose next attempt is more than a minute past.",
        "overdue",
    ),
    (
        "channel_paused",
        "1 while an operator has paused the channel (its rows wait on purpose).",
        "paused",
    ),
)


def _per_row(
    label: str, gauges: Iterable[tuple[str, str, str]], rows: Sequence[Any]
) -> Iterator[Metric]:
    """One family per gauge, one series per row named by its ``name``; a None reading has
    no series (absent, not 0), a flag is 1 or 0."""
    for name, doc, attribute in gauges:
        family = _gauge(name, doc, [label])
        for row in rows:
            value = getattr(row, attribute)
            if value is not None:
                family.add_metric([row.name], float(value))
        yield family


def _queue_families(readings: Readings) -> Iterator[Metric]:
    redis_up = _gauge("redis_up", "1 when Redis answered this scrape.")
    redis_up.add_metric([], 0 if readings.queues is None else 1)
    yield redis_up
    if readings.queues is not None:
        yield from _per_row("queue", _QUEUE_GAUGES, readings.queues)


def _channel_families(readings: Readings) -> Iterator[Metric]:
    yield from _per_row("channel", _CHANNEL_GAUGES, readings.channels)


def _attempt_families(readings: Readings) -> Iterator[Metric]:
    channels = [kind.name for kind in CHANNEL_TYPES]
    totals = dict.fromkeys(((c, o) for c in channels for o in ATTEMPT_OUTCOMES), 0)
    buckets = {c: [0] * (len(DURATION_BUCKETS) + 1) for c in channels}
    sums = dict.fromkeys(channels, 0.0)
    for tally in readings.tallies:
        totals[tally.channel, tally.outcome] = (
            totals.get((tally.channel, tally.outcome), 0) + tally.attempts
        )
        buckets.setdefault(tally.channel, [0] * (len(DURATION_BUCKETS) + 1))
        buckets[tally.channel][min(tally.bucket, len(DURATION_BUCKETS))] += tally.attempts
        sums[tally.channel] = sums.get(tally.channel, 0.0) + tally.duration_seconds
    counter = CounterMetricFamily(
        "syndicator_delivery_attempts",
        "Delivery attempts recorded, by channel and outcome (from the database).",
        labels=["channel", "outcome"],
    )
    for (channel, outcome), n in sorted(totals.items()):
        counter.add_metric([channel, outcome], n)
    histogram = HistogramMetricFamily(
        "syndicator_delivery_attempt_duration_seconds",
        "How long delivery attempts took, by channel (from the database).",
        labels=["channel"],
    )
    for channel in sorted(buckets):
        histogram.add_metric([channel], _cumulative(buckets[channel]), sums[channel])
    yield from (counter, histogram)


def _cumulative(counts: list[int]) -> list[tuple[str, float]]:
    bounds = [*(floatToGoString(b) for b in DURATION_BUCKETS), "+Inf"]
    running, out = 0, []
    for bound, n in zip(bounds, counts, strict=True):
        running += n
        out.append((bound, float(running)))
    return out


def _pipeline_families(readings: Readings) -> Iterator[Metric]:
    outbox = _gauge("outbox_backlog", "Events committed but not yet handed to the broker.")
    outbox.add_metric([], readings.outbox_backlog)
    outbox_age = _gauge(
        "outbox_oldest_age_seconds", "Age of the oldest event waiting in the outbox (0: none)."
    )
    outbox_age.add_metric([], readings.outbox_oldest_seconds)
    awaiting = _gauge(
        "outbox_awaiting_fanout", "Events on the broker whose fan-out has not run yet."
    )
    awaiting.add_metric([], readings.outbox_awaiting_fanout)
    healthy = _gauge(
        "pipeline_healthy", "1 when events flow: what /readyz/pipeline answers 200 for."
    )
    healthy.add_metric([], 0 if readings.pipeline else 1)
    problems = _gauge(
        "pipeline_problems", "What blocks the pipeline, by kind (see /readyz/pipeline).", ["kind"]
    )
    active = [cause.kind for cause in readings.pipeline]
    for kind in CAUSE_KINDS:
        problems.add_metric([kind], active.count(kind))
    beat_up = _gauge("beat_up", "1 when beat's heartbeat is fresh (relay and sweeper run).")
    beat_up.add_metric([], 0 if readings.beat_age_seconds is None else 1)
    beat_age = _gauge(
        "beat_heartbeat_age_seconds", "Seconds since beat's last heartbeat (absent: none in 45 s)."
    )
    if readings.beat_age_seconds is not None:
        beat_age.add_metric([], readings.beat_age_seconds)
    workers = _gauge(
        "worker_processes_live", "Worker processes whose heartbeat is fresh (from the database)."
    )
    workers.add_metric([], readings.live_workers)
    lost = _gauge(
        "claims_lost",
        "Deliveries claimed by worker processes that are gone, until the sweeper releases them.",
    )
    lost.add_metric([], readings.lost_claims)
    yield from (outbox, outbox_age, awaiting, healthy, problems, beat_up, beat_age, workers, lost)


def _people_families(readings: Readings) -> Iterator[Metric]:
    partners = _gauge(
        "partners", "Webhook partners by state (failing: active, failing since a while).", ["state"]
    )
    for state, n in readings.partners.items():
        partners.add_metric([state], n)
    subscribers = _gauge("subscribers", "Mailing-list subscribers by status.", ["status"])
    for status, n in readings.subscribers.items():
        subscribers.add_metric([status], n)
    yield from (partners, subscribers)


def _newsletter_families(readings: Readings) -> Iterator[Metric]:
    """Rates over the newsletters of the last 7 days, and of the latest newsletter alone
    (labelled by kind only: a newsletter's id would be a new series per release)."""
    reading = readings.newsletters
    sent = _gauge(
        "newsletter_messages_sent_7d",
        "Messages the newsletters last sent in the past 7 days handed to the mail server.",
    )
    reported = _gauge(
        "newsletter_feedback_7d",
        "Of those messages, how many drew a report, by kind (hard_bounce, soft_bounce, complaint).",
        ["kind"],
    )
    rate = _gauge(
        "newsletter_feedback_rate_7d",
        "Share of those messages that drew a report, by kind (0.003 is 0.3 %).",
        ["kind"],
    )
    latest_sent = _gauge(
        "newsletter_latest_messages_sent", "Messages the latest newsletter sent (0: none)."
    )
    latest_rate = _gauge(
        "newsletter_latest_feedback_rate",
        "Share of the latest newsletter's messages that drew a report, by kind.",
        ["kind"],
    )
    sent.add_metric([], reading.sent_7d)
    latest_sent.add_metric([], reading.latest_sent)
    for kind in FEEDBACK_KINDS:
        reported.add_metric([kind], reading.feedback_7d.get(kind, 0))
        rate.add_metric([kind], reading.rate_7d(kind))
        latest_rate.add_metric([kind], reading.latest_rate(kind))
    yield from (sent, reported, rate, latest_sent, latest_rate)


def metric_families(readings: Readings) -> list[Metric]:
    return [
        *_queue_families(readings),
        *_channel_families(readings),
        *_attempt_families(readings),
        *_pipeline_families(readings),
        *_people_families(readings),
        *_newsletter_families(readings),
    ]


class _Fixed(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(readings: Readings) -> bytes:
    """The text format Prometheus scrapes (version 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metric_families(readings)))
    return generate_latest(registry)
