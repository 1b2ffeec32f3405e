"""The feeds channel: one render for a burst of events, announced to the web nodes, WebSub
pings asked of the newest event, and a quarantined release failed alone for good."""

from __future__ import annotations

import dataclasses

import redis

from syndicator.channels.base import BatchContext, ChannelContext, Deadline, EventRecord
from syndicator.channels.feeds import SITE_TARGET, FeedsChannel
from syndicator.config import Settings
from syndicator.delivery.runner import Enqueue, plan_event
from syndicator.events.schema import CmsEvent
from syndicator.feeds.changes import documents_channel
from syndicator.intake.accept import accept_event
from syndicator.ledger.claims import Claimed, claim
from syndicator.ledger.quarantine import quarantine
from syndicator.store.db import Database
from tests.factories import make_event


def _claimed(db: Database, channel: FeedsChannel, *release_ids: int) -> list[Claimed]:
    ids: list[int] = []
    for n in release_ids:
        result = accept_event(db, CmsEvent.model_validate(make_event(n)), webhook_id=f"m{n}")
        event = EventRecord(result.event_id, "release.published", n, "hook", {})
        sent: list[Enqueue] = []
        plan_event(db, {channel.name: channel}, event, sent.append)
        ids += [i for item in sent for i in item.delivery_ids]
    with db.session() as session:
        return claim(session, ids)


def test_a_burst_is_one_render_announced_and_pinged_by_its_newest_event(
    db: Database, settings: Settings, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    hub = dataclasses.replace(settings, websub_hub="https://hub.example/")
    channel = FeedsChannel(ChannelContext(hub, db, client))
    assert list(channel.plan(EventRecord("e", "release.published", 1, "hook", {}))) == [SITE_TARGET]
    jobs = _claimed(db, channel, 1, 2)
    listener = client.pubsub()
    listener.subscribe(documents_channel(client.connection_pool.connection_kwargs.get("db", 0)))
    listener.get_message(timeout=5)  # the subscription's confirmation
    report = channel.deliver_batch(jobs, BatchContext(Deadline.after(60)))
    assert all(outcome.ok for outcome in report.outcomes) and len(report.outcomes) == 2
    (ping,) = report.follow_ups
    assert ping.channel == "websub" and ping.event_id == jobs[-1].event_id and ping.targets
    assert listener.get_message(timeout=5) is not None  # the web nodes were told
    listener.close()
    client.close()


def test_a_quarantined_release_fails_for_good_and_alone(db: Database, settings: Settings) -> None:
    channel = FeedsChannel(ChannelContext(settings, db, None))
    jobs = _claimed(db, channel, 1, 2)
    with db.session() as session:
        quarantine(session, 2, "feeds", ValueError("cannot render"))
    report = channel.deliver_batch(jobs, BatchContext(Deadline.after(60)))
    first, second = report.outcomes
    assert first.ok
    assert (
        not second.ok and not second.retryable and "release 2 quarantined" in (second.detail or "")
    )
    assert report.follow_ups == []  # no hub configured: nothing to ping
