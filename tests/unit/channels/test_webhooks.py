"""The webhooks channel, end to end through its one job: snapshot the partner, sign,
post to a real receiver on loopback, and say what happened. The signature is checked with
the independent ``standardwebhooks`` package; the full matrix lives in
tests/integration/test_webhooks_delivery.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from standardwebhooks.webhooks import Webhook

from syndicator.channels.base import ChannelContext, EventRecord
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.config import Settings
from syndicator.delivery import aio
from syndicator.delivery.runner import run_due
from syndicator.events.signing import generate_secret
from syndicator.store.db import Database
from syndicator.store.models import Partner, PartnerSecret
from tests.integration.webhook_receiver import Receiver, Reply, receiver
from tests.integration.webhook_support import add_partner, attempts, deliveries, publish


@pytest.fixture
def channel(db: Database, settings: Settings, redis_url: str) -> Iterator[WebhooksChannel]:
    local = settings.with_(
        redis_url=redis_url, webhook_allowed_networks=("127.0.0.0/8",), webhook_timeout=10.0
    )
    opened = WebhooksChannel(ChannelContext(local, db))
    yield opened
    aio.close_channels([opened])


@pytest.fixture
def site() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def test_a_delivery_is_signed_posted_and_logged(
    db: Database, channel: WebhooksChannel, site: Receiver
) -> None:
    secret = generate_secret()
    add_partner(db, site.url("a"), secrets=[(secret, None)])
    run_due(db, channel, publish(db, channel, 5))
    (got,) = site.to("a")
    Webhook(secret).verify(got.body, got.headers)
    (attempt,) = attempts(db)
    assert attempt.outcome == "succeeded" and attempt.message_id == got.headers["webhook-id"]


def test_a_partner_plans_only_the_event_types_it_asked_for(
    db: Database, channel: WebhooksChannel, site: Receiver
) -> None:
    add_partner(db, site.url("a"), secrets=[(generate_secret(), None)])
    add_partner(
        db, site.url("b"), secrets=[(generate_secret(), None)], event_types=["release.retracted"]
    )
    assert len(publish(db, channel, 6)) == 1  # only a, which takes every type
    not_ours = EventRecord("e", "subscriber.created", 6, "hook", {})
    assert list(channel.plan(not_ours)) == []
    assert channel.group("partner:7") == "partner:7"


def test_an_answer_to_retry_later_is_retried_on_the_partners_schedule(
    db: Database, channel: WebhooksChannel, site: Receiver
) -> None:
    add_partner(db, site.url("a"), secrets=[(generate_secret(), None)])
    site.script("a", Reply(503, body=b"busy"))
    run_due(db, channel, publish(db, channel, 7))
    (row,) = deliveries(db)
    assert row.status == "pending" and row.next_attempt_at is not None
    assert attempts(db)[0].outcome == "retrying"


def test_a_partner_gone_before_its_delivery_fails_without_a_call(
    db: Database, channel: WebhooksChannel, site: Receiver
) -> None:
    add_partner(db, site.url("a"), secrets=[(generate_secret(), None)])
    planned = publish(db, channel, 8)
    with db.session() as session:
        session.execute(delete(PartnerSecret))
        session.execute(delete(Partner))
    run_due(db, channel, planned)
    assert site.to("a") == []
    (row,) = deliveries(db)
    assert row.status == "failed"
