"""The exposition of a reading, parsed back with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from syndicator.channels.registry import ALL_QUEUES, CHANNEL_TYPES
from syndicator.ledger.tallies import DURATION_BUCKETS, Tally, bucket_of
from syndicator.ops.metrics import ATTEMPT_OUTCOMES, exposition
from syndicator.ops.readings import ChannelReading, QueueReading, Readings
from syndicator.runtime.readiness import CAUSE_KINDS, PipelineCause


def a_reading(**changes: object) -> Readings:
    readings = Readings(
        channels=[ChannelReading(k.name, k.queue, 0.0, 0, 0) for k in CHANNEL_TYPES],
        outbox_backlog=0,
        outbox_oldest_seconds=0.0,
        outbox_awaiting_fanout=0,
        events_oldest_seconds=0.0,
        tallies=[],
        partners={"active": 0, "disabled": 0, "failing": 0},
        subscribers={"active": 0},
        queues=[QueueReading(q, 0, 0, 0.0, 1, 3.0) for q in ALL_QUEUES],
        beat_age_seconds=2.0,
    )
    for name, value in changes.items():
        setattr(readings, name, value)
    return readings


def samples(readings: Readings) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = exposition(readings).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_series_exists_from_the_start_at_zero():
    found = samples(a_reading())
    for kind in CHANNEL_TYPES:
        for outcome in ATTEMPT_OUTCOMES:
            key = (
                "syndicator_delivery_attempts_total",
                {("channel", kind.name), ("outcome", outcome)},
            )
            assert found[key[0], frozenset(key[1])] == 0
    for kind in CAUSE_KINDS:
        assert found["syndicator_pipeline_problems", frozenset({("kind", kind)})] == 0
    assert found["syndicator_pipeline_healthy", frozenset()] == 1


def test_tallies_become_a_cumulative_histogram_per_channel():
    tallies = [
        Tally("email", "succeeded", bucket_of(0.004), 5, 0.02),
        Tally("email", "failed", bucket_of(0.3), 2, 0.6),
        Tally("email", "retrying", bucket_of(120.0), 1, 120.0),
    ]
    found = samples(a_reading(tallies=tallies))

    def bucket(le: str) -> float:
        name = "syndicator_delivery_attempt_duration_seconds_bucket"
        return found[name, frozenset({("channel", "email"), ("le", le)})]

    assert bucket("0.01") == 5
    assert bucket("0.25") == 5 and bucket("0.5") == 7 and bucket("30.0") == 7
    assert bucket("+Inf") == 8
    count = found[
        "syndicator_delivery_attempt_duration_seconds_count", frozenset({("channel", "email")})
    ]
    assert count == 8


def test_a_blocked_pipeline_names_its_kinds_and_redis_away_drops_queue_series():
    causes = [
        PipelineCause("no_consumer", "email", "no worker has consumed the email queue"),
        PipelineCause("no_consumer", "webhooks", "no worker has consumed the webhooks queue"),
        PipelineCause("redis_unreachable", "", "cannot reach Redis"),
    ]
    found = samples(a_reading(pipeline=causes, queues=None, beat_age_seconds=None))
    assert found["syndicator_pipeline_healthy", frozenset()] == 0
    assert found["syndicator_pipeline_problems", frozenset({("kind", "no_consumer")})] == 2
    assert found["syndicator_redis_up", frozenset()] == 0
    assert found["syndicator_beat_up", frozenset()] == 0
    assert not any(name.startswith("syndicator_queue_") for name, _ in found)
    assert not any(name == "syndicator_beat_heartbeat_age_seconds" for name, _ in found)


def test_bucket_of_puts_a_bound_in_its_own_bucket():
    assert bucket_of(DURATION_BUCKETS[0]) == 0
    assert bucket_of(DURATION_BUCKETS[0] * 1.01) == 1
    assert bucket_of(DURATION_BUCKETS[-1] + 1) == len(DURATION_BUCKETS)
