"""Partner webhook deliveries against a real receiver (aiohttp in a thread) and real Redis.

Signatures are verified with the independent ``standardwebhooks`` package, never with
our own code.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_sync
import redis.asyncio as redis_async
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from syndicator.channels.base import ChannelContext
from syndicator.channels.notices import NoticesChannel
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.config import Settings
from syndicator.delivery import aio
from syndicator.delivery.runner import run_due
from syndicator.events.signing import generate_secret
from syndicator.partners.signing import generate_signing_key, public_key
from syndicator.partners.ssrf import StaticResolve, UrlRefused, check_url
from syndicator.partners.throttle import Lease, Throttle
from syndicator.store.db import Database
from syndicator.store.models import DeliveryAttempt, Partner
from tests.integration.webhook_receiver import Receiver, Reply, receiver
from tests.integration.webhook_support import (
    add_partner,
    attempts,
    deliveries,
    make_due,
    publish,
    run_pending,
)
from tests.signatures import BadSignature, verify_v1a

LOCAL = ("127.0.0.0/8",)


@pytest.fixture
def partner_site() -> Iterator[Receiver]:
    with receiver() as site:
        yield site


@pytest.fixture
def hook_settings(settings: Settings, redis_url: str) -> Settings:
    return settings.with_(
        redis_url=redis_url,
        webhook_allowed_networks=LOCAL,
        webhook_retry_schedule=(1.0, 1.0, 2.0),
        webhook_timeout=15.0,
    )


def open_channel(db: Database, settings: Settings, **names: list[str]) -> WebhooksChannel:
    resolve = StaticResolve(names).aresolve if names else None
    return WebhooksChannel(ChannelContext(settings, db), resolve=resolve)


@pytest.fixture
def channel(db: Database, hook_settings: Settings) -> Iterator[WebhooksChannel]:
    opened = open_channel(db, hook_settings)
    yield opened
    aio.close_channels([opened])


def test_envelope_is_signed_with_every_active_key_and_verifies_independently(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    old, new, expired = generate_secret(), generate_secret(), generate_secret()
    now = datetime.now(UTC)
    add_partner(
        db,
        partner_site.url("a"),
        secrets=[
            (expired, now - timedelta(hours=1)),
            (old, now + timedelta(hours=20)),
            (new, None),
        ],
        headers={"X-Env": "prod"},
    )
    run_due(db, channel, publish(db, channel, 5))

    (got,) = partner_site.to("a")
    assert len(got.headers["webhook-signature"].split(" ")) == 2  # the expired key is out
    for secret in (old, new):  # a partner holding either key verifies the delivery
        Webhook(secret).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(expired).verify(got.body, got.headers)
    envelope = json.loads(got.body)
    assert envelope["type"] == "release.published" and envelope["version"] == 1
    release = envelope["data"]["release"]
    assert release["id"] == 5 and release["url"].startswith("https://")
    assert all(a["url"].startswith("https://") for a in release["attachments"])
    assert got.headers["x-env"] == "prod"
    assert got.headers["user-agent"].startswith("syndicator/")
    assert got.headers["content-type"] == "application/json"
    (attempt,) = attempts(db)
    assert attempt.outcome == "succeeded" and attempt.status_code == 200
    assert attempt.message_id == got.headers["webhook-id"]
    assert attempt.endpoint == partner_site.url("a") and attempt.response == "ok"


def test_500_500_200_is_three_attempts_one_delivery_one_webhook_id(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    secret = generate_secret()
    add_partner(db, partner_site.url("a"), secrets=[(secret, None)])
    partner_site.script("a", Reply(500, body=b"down"), Reply(500, body=b"down"), Reply(200))
    run_due(db, channel, publish(db, channel))
    for _ in range(2):
        make_due(db)
        run_pending(db, channel)

    logged = attempts(db)
    assert [a.status_code for a in logged] == [500, 500, 200]
    assert [a.outcome for a in logged] == ["retrying", "retrying", "succeeded"]
    assert [a.error_class for a in logged] == ["http", "http", None]
    assert logged[0].response == "down"
    # The schedule (1 s, 1 s, 2 s here) with ±20 % jitter, kept in the database.
    for attempt in logged[:2]:
        assert attempt.next_attempt_at is not None
        delay = (attempt.next_attempt_at - attempt.started_at).total_seconds()
        assert 0.8 <= delay <= 1.2 + 0.5
    ids = {r.headers["webhook-id"] for r in partner_site.to("a")}
    assert len(partner_site.to("a")) == 3 and len(ids) == 1
    assert {a.message_id for a in logged} == ids
    for request in partner_site.to("a"):
        Webhook(secret).verify(request.body, request.headers)
    (delivery,) = deliveries(db)
    assert delivery.status == "succeeded" and delivery.attempts == 3


def test_410_gone_disables_the_partner_at_once(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    partner = add_partner(db, partner_site.url("a"), secrets=[(generate_secret(), None)])
    partner_site.script("a", Reply(410))
    run_due(db, channel, publish(db, channel, 1))

    (attempt,) = attempts(db)
    assert attempt.outcome == "failed" and attempt.status_code == 410
    assert attempt.next_attempt_at is None
    with db.session() as session:
        row = session.get(Partner, partner)
        assert row is not None and row.state == "disabled"
        assert row.disabled_reason is not None and "410" in row.disabled_reason
    # A disabled partner is no longer planned.
    assert publish(db, channel, 2) == []


def test_a_disabled_partners_pending_rows_fail_without_a_request(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    partner = add_partner(db, partner_site.url("a"), secrets=[(generate_secret(), None)])
    ids = publish(db, channel)
    with db.session() as session:
        row = session.get(Partner, partner)
        assert row is not None
        row.state, row.disabled_reason = "disabled", "maintenance"
    run_due(db, channel, ids)
    (attempt,) = attempts(db)
    assert attempt.outcome == "failed" and attempt.error_class == "partner-disabled"
    assert attempt.detail is not None and "maintenance" in attempt.detail
    assert partner_site.requests == []


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_a_floor_for_the_next_attempt(
    db: Database, channel: WebhooksChannel, partner_site: Receiver, status: int
):
    add_partner(db, partner_site.url("a"), secrets=[(generate_secret(), None)])
    partner_site.script("a", Reply(status, headers={"Retry-After": "3"}))
    run_due(db, channel, publish(db, channel))

    (attempt,) = attempts(db)
    assert attempt.outcome == "retrying" and attempt.status_code == status
    assert attempt.next_attempt_at is not None
    assert (attempt.next_attempt_at - attempt.started_at).total_seconds() >= 3
    (delivery,) = deliveries(db)
    assert delivery.next_attempt_at == attempt.next_attempt_at


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    add_partner(db, partner_site.url("a"), secrets=[(generate_secret(), None)])
    partner_site.script("a", Reply(302, headers={"Location": partner_site.url("elsewhere")}))
    run_due(db, channel, publish(db, channel))

    (attempt,) = attempts(db)
    assert attempt.error_class == "redirect" and attempt.status_code == 302
    assert attempt.outcome == "retrying"
    assert partner_site.to("elsewhere") == []


def test_a_timeout_is_classified_as_timeout(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    channel = open_channel(db, hook_settings.with_(webhook_timeout=1.0))
    try:
        add_partner(db, partner_site.url("slow"), secrets=[(generate_secret(), None)])
        partner_site.hang("slow", seconds=5)
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    (attempt,) = attempts(db)
    assert attempt.error_class == "timeout" and attempt.status_code == 0
    assert attempt.outcome == "retrying"


def test_a_closed_port_is_classified_as_connect(db: Database, channel: WebhooksChannel):
    from tests.services import free_port

    add_partner(db, f"http://127.0.0.1:{free_port()}/", secrets=[(generate_secret(), None)])
    run_due(db, channel, publish(db, channel))
    (attempt,) = attempts(db)
    assert attempt.error_class == "connect" and attempt.status_code == 0


def test_a_name_that_does_not_resolve_is_classified_as_dns(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    channel = open_channel(db, hook_settings, **{"known.example": ["127.0.0.1"]})
    try:
        add_partner(db, "http://unknown.example/hook", secrets=[(generate_secret(), None)])
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    (attempt,) = attempts(db)
    assert attempt.error_class == "dns" and attempt.status_code == 0


# --- SSRF at delivery -------------------------------------------------------------------


def test_a_name_resolving_to_loopback_is_refused_without_an_allow_list(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    settings = hook_settings.with_(webhook_allowed_networks=())
    channel = open_channel(db, settings, **{"internal.example": ["127.0.0.1"]})
    try:
        url = f"http://internal.example:{partner_site.port}/p/a"
        add_partner(db, url, secrets=[(generate_secret(), None)])
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    (attempt,) = attempts(db)
    assert attempt.error_class == "ssrf-refused" and attempt.status_code == 0
    assert attempt.detail is not None and "loopback" in attempt.detail
    assert partner_site.requests == []


def test_dns_rebinding_after_registration_gets_nowhere(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    names = StaticResolve({"partner.example": ["93.184.215.14"]})
    url = f"http://partner.example:{partner_site.port}/p/a"
    check_url(url, (), names)  # registration: a public address, accepted
    names.names["partner.example"] = ["127.0.0.1"]  # ... then the name moves
    with pytest.raises(UrlRefused):
        check_url(url, (), names)
    settings = hook_settings.with_(webhook_allowed_networks=())
    channel = WebhooksChannel(ChannelContext(settings, db), resolve=names.aresolve)
    try:
        add_partner(db, url, secrets=[(generate_secret(), None)])
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    (attempt,) = attempts(db)
    assert attempt.error_class == "ssrf-refused"
    assert partner_site.requests == []


def test_a_literal_private_address_is_refused_for_good(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    channel = open_channel(db, hook_settings.with_(webhook_allowed_networks=()))
    try:
        add_partner(db, partner_site.url("a"), secrets=[(generate_secret(), None)])
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    (attempt,) = attempts(db)
    assert attempt.error_class == "ssrf-refused" and attempt.outcome == "failed"
    assert partner_site.requests == []


def test_an_allowed_network_connects_to_the_checked_address_keeping_the_name(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    channel = open_channel(db, hook_settings, **{"partner.example": ["127.0.0.1"]})
    try:
        url = f"http://partner.example:{partner_site.port}/p/a"
        add_partner(db, url, secrets=[(generate_secret(), None)])
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    (got,) = partner_site.to("a")
    assert got.headers["host"] == f"partner.example:{partner_site.port}"
    assert attempts(db)[0].outcome == "succeeded"


# --- isolation --------------------------------------------------------------------------


def test_a_partner_at_its_cap_is_deferred_without_spending_an_attempt(
    db: Database, channel: WebhooksChannel, partner_site: Receiver, hook_settings: Settings
):
    partner = add_partner(
        db, partner_site.url("a"), secrets=[(generate_secret(), None)], max_in_flight=1
    )
    ids = publish(db, channel)

    async def occupy() -> Lease:  # another worker holds the partner's only slot
        client = redis_async.Redis.from_url(hook_settings.redis_url or "")
        lease = await Throttle(client, 60).acquire(partner, 1, None)
        await client.aclose()
        assert isinstance(lease, Lease)
        return lease

    aio.run(occupy())
    run_due(db, channel, ids)
    assert attempts(db) == [] and partner_site.requests == []
    (delivery,) = deliveries(db)
    assert delivery.status == "pending" and delivery.attempts == 0
    assert delivery.next_attempt_at is not None


def test_a_partner_another_worker_found_slow_gets_one_request_at_a_time(
    db: Database, channel: WebhooksChannel, partner_site: Receiver, hook_settings: Settings
):
    """Another worker marked this partner slow and is still waiting on it: its rows here
    are deferred unspent (one hanging partner holds one worker, not all); the others go."""
    slow = add_partner(db, partner_site.url("slow"), secrets=[(generate_secret(), None)])
    fine = add_partner(db, partner_site.url("fine"), secrets=[(generate_secret(), None)])
    later_ms = (time.time() + 60) * 1000
    client = redis_sync.Redis.from_url(hook_settings.redis_url or "")
    client.zadd("syndicator:webhooks:slow", {str(slow): later_ms})
    client.zadd(f"syndicator:webhooks:inflight:{slow}", {"elsewhere": later_ms})
    client.close()
    run_due(db, channel, publish(db, channel))

    assert partner_site.to("slow") == [] and len(partner_site.to("fine")) == 1
    by_target = {d.target: d for d in deliveries(db)}
    assert by_target[f"partner:{slow}"].status == "pending"
    assert by_target[f"partner:{slow}"].attempts == 0
    assert by_target[f"partner:{fine}"].status == "succeeded"


def test_a_rate_limited_partner_is_paced_and_the_rest_deferred(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    """1 request/s: rows wait a little for the next token (at most 2 s in all), then are
    deferred unspent. The limiter runs on Redis's clock, so slowness only spaces them more."""
    add_partner(db, partner_site.url("a"), secrets=[(generate_secret(), None)], rate_limit_per_s=1)
    ids = [i for release in range(1, 7) for i in publish(db, channel, release)]
    run_due(db, channel, ids)

    arrivals = [r.at for r in partner_site.to("a")]
    assert 1 <= len(arrivals) < 6  # six tokens take five seconds: some rows were deferred
    assert all(later - earlier >= 0.8 for earlier, later in itertools.pairwise(arrivals))
    rows = deliveries(db)
    sent = [d for d in rows if d.attempts == 1]
    deferred = [d for d in rows if d.attempts == 0]
    assert len(sent) == len(arrivals) == len(attempts(db))
    assert len(deferred) == 6 - len(sent)
    assert all(d.status == "pending" and d.next_attempt_at is not None for d in deferred)


def test_one_hanging_partner_does_not_hold_up_ten_healthy_ones(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    """Three events for eleven partners in one batch: the hanging partner's rows wait
    for their own timeout while every healthy row is delivered and logged before it."""
    channel = open_channel(db, hook_settings.with_(webhook_timeout=3.0))
    channel.gate.slow_after = 1.0  # sooner than the 3 s timeout here
    try:
        hanging = add_partner(db, partner_site.url("hanging"), secrets=[(generate_secret(), None)])
        partner_site.hang("hanging", seconds=30)
        healthy = [
            add_partner(db, partner_site.url(f"h{n}"), secrets=[(generate_secret(), None)])
            for n in range(10)
        ]
        ids = [i for release in (1, 2, 3) for i in publish(db, channel, release)]
        assert len(ids) == 33
        run_due(db, channel, ids)
    finally:
        aio.close_channels([channel])

    by_delivery = {d.id: d.target for d in deliveries(db)}
    logged = attempts(db)
    slow = [a for a in logged if by_delivery[a.delivery_id] == f"partner:{hanging}"]
    fast = [a for a in logged if by_delivery[a.delivery_id] != f"partner:{hanging}"]
    assert len(fast) == 30 and all(a.outcome == "succeeded" for a in fast)
    assert {by_delivery[a.delivery_id] for a in fast} == {f"partner:{p}" for p in healthy}
    assert slow and all(a.error_class == "timeout" for a in slow)

    def ended(attempt: DeliveryAttempt) -> datetime:
        return attempt.started_at + timedelta(milliseconds=attempt.duration_ms)

    assert max(map(ended, fast)) < min(map(ended, slow))
    # ... and every worker now knows it is slow: one request at a time from now on.
    client = redis_sync.Redis.from_url(hook_settings.redis_url or "")
    assert client.zscore("syndicator:webhooks:slow", str(hanging)) is not None
    client.close()
    # Every healthy partner got all three events, each once.
    for n in range(10):
        assert len(partner_site.unique_ids(f"h{n}")) == 3


def test_five_days_of_only_failures_disables_the_partner_and_tells_the_operators(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    settings = hook_settings.with_(ops_email="ops@press.example.kr", smtp_url=None)
    channel = open_channel(db, settings)
    try:
        partner = add_partner(
            db,
            partner_site.url("a"),
            secrets=[(generate_secret(), None)],
            failing_since=datetime.now(UTC) - timedelta(days=5, minutes=1),
        )
        partner_site.script("a", Reply(500))
        run_due(db, channel, publish(db, channel))
    finally:
        aio.close_channels([channel])
    with db.session() as session:
        row = session.get(Partner, partner)
        assert row is not None and row.state == "disabled"
        assert row.disabled_reason is not None and "only failures" in row.disabled_reason
    # The operators' notice is a ledger row of its own, written with the state change.
    (notice,) = [d for d in deliveries(db) if d.channel == "notices"]
    assert (notice.target, notice.status) == ("ops", "pending")
    assert list((settings.data_dir / "outbox").glob("*.eml")) == []  # not mailed inline
    notices = NoticesChannel(ChannelContext(settings, db))
    try:
        run_due(db, notices, [notice.id])
    finally:
        notices.close()
    (mail,) = (settings.data_dir / "outbox").glob("*.eml")
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ops@press.example.kr"
    assert "연합뉴스" in str(message["Subject"])
    (attempt,) = [a for a in attempts(db) if a.delivery_id == notice.id]
    assert attempt.outcome == "succeeded"


def test_a_success_clears_failing_since(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    partner = add_partner(db, partner_site.url("a"), secrets=[(generate_secret(), None)])
    partner_site.script("a", Reply(500), Reply(200))
    run_due(db, channel, publish(db, channel))
    with db.session() as session:
        assert session.scalar(select(Partner.failing_since).where(Partner.id == partner))
    make_due(db)
    run_pending(db, channel)
    with db.session() as session:
        assert session.scalar(select(Partner.failing_since).where(Partner.id == partner)) is None


def test_filters_choose_partners_by_type_department_and_category(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    secret = [(generate_secret(), None)]
    everyone = add_partner(db, partner_site.url("all"), secrets=secret)
    updates = add_partner(
        db, partner_site.url("u"), secrets=secret, event_types=["release.updated"]
    )
    health = add_partner(db, partner_site.url("d"), secrets=secret, departments=["위생정책과"])
    culture = add_partner(db, partner_site.url("c"), secrets=secret, categories=["문화"])
    ids = publish(db, channel, 1)  # 위생정책과, categories 경제 and 보건
    planned = {d.target for d in deliveries(db) if d.id in ids}
    assert planned == {f"partner:{everyone}", f"partner:{health}"}
    assert updates and culture


def test_a_retraction_goes_out_as_release_retracted_without_the_body(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    add_partner(db, partner_site.url("a"), secrets=[(generate_secret(), None)])
    run_due(db, channel, publish(db, channel, 3))
    run_due(db, channel, publish(db, channel, 3, "release.retracted"))
    first, retraction = (json.loads(r.body) for r in partner_site.to("a"))
    assert retraction["type"] == "release.retracted"
    assert retraction["data"]["release"]["id"] == 3
    assert "body_html" not in retraction["data"]["release"]
    assert first["id"] != retraction["id"]


def test_openapi_documents_the_envelope_partners_receive(client):
    spec = client.get("/openapi.json").json()
    assert set(spec["webhooks"]) == {
        "release.published",
        "release.updated",
        "release.retracted",
        "partner.test",
    }
    published = spec["webhooks"]["release.published"]["post"]
    schema = published["requestBody"]["content"]["application/json"]["schema"]
    envelope = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert {"type", "id", "timestamp", "version", "data"} <= set(envelope["properties"])
    headers = {p["name"] for p in published["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}


def test_a_partners_cookie_never_rides_along_on_a_later_delivery(
    db: Database, hook_settings: Settings, partner_site: Receiver
):
    # By name: a cookie jar would keep a named host's cookie (never an IP literal's).
    channel = open_channel(db, hook_settings, **{"hooks.example": ["127.0.0.1"]})
    secret = generate_secret()
    for name in ("a", "b"):  # two partners on the same host
        url = f"http://hooks.example:{partner_site.port}/p/{name}"
        add_partner(db, url, secrets=[(secret, None)])
    partner_site.script("a", Reply(200, headers={"Set-Cookie": "sid=secret-of-a; Path=/"}))
    try:
        run_due(db, channel, publish(db, channel, 1))
        run_due(db, channel, publish(db, channel, 2))
    finally:
        aio.close_channels([channel])
    received = partner_site.to("a") + partner_site.to("b")
    assert len(received) == 4
    assert all("cookie" not in got.headers for got in received)


def test_an_ed25519_partner_gets_v1a_signatures_its_public_keys_verify(
    db: Database, channel: WebhooksChannel, partner_site: Receiver
):
    """Mid-rotation from v1 to ed25519: both keys sign, each entry in its own scheme,
    checked per the specification with ``cryptography`` and with ``standardwebhooks``."""
    old, new = generate_secret(), generate_signing_key()
    add_partner(
        db,
        partner_site.url("a"),
        secrets=[(old, datetime.now(UTC) + timedelta(hours=20)), (new, None)],
    )
    run_due(db, channel, publish(db, channel, 6))

    (got,) = partner_site.to("a")
    schemes = [e.split(",")[0] for e in got.headers["webhook-signature"].split(" ")]
    assert schemes == ["v1a", "v1"]  # the newest key first
    verify_v1a(public_key(new), got.body, got.headers)
    with pytest.raises(BadSignature):
        verify_v1a(public_key(generate_signing_key()), got.body, got.headers)
    Webhook(old).verify(got.body, got.headers)
    assert new.encode() not in got.body and "whsk_" not in str(got.headers)
