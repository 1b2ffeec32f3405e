"""The delivery log API, replay and recover, over real HTTP on SQLite and PostgreSQL.

Resends go through the ledger: these tests run the real runner and recorder on the rows
the API made due, with a stand-in channel, and read the attempt log it wrote.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import insert, select, update

from syndicator.channels.base import BatchContext, ChannelContext, DeliveryOutcome, SyncChannel
from syndicator.config import Settings
from syndicator.delivery.runner import run_due
from syndicator.ledger.claims import Claimed
from syndicator.ops.audit import api_actor
from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, Delivery, DeliveryAttempt, utcnow
from tests.integration.test_partner_admin import ADMIN, add_delivery, add_event, create


class Receiver(SyncChannel):
    """Stands in for the webhooks channel: answers what the test says."""

    name: ClassVar[str] = "webhooks"
    queue: ClassVar[str] = "webhooks"
    retry_schedule: ClassVar[tuple[float, ...]] = (5, 60)

    def __init__(self, ctx: ChannelContext, ok: bool) -> None:
        super().__init__(ctx)
        self.ok = ok

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        return DeliveryOutcome(
            job.delivery_id,
            ok=self.ok,
            status_code=200 if self.ok else 500,
            error_class=None if self.ok else "http",
            response="ok" if self.ok else "boom",
            endpoint="https://93.184.215.14/hooks",
        )


def deliver(store: Database, settings: Settings, ids: list[int], ok: bool) -> None:
    """What a worker does with rows the sweeper enqueued: a scheduled batch."""
    run_due(store, Receiver(ChannelContext(settings, store), ok), ids)


def attempts_of(store: Database, delivery_id: int) -> list[DeliveryAttempt]:
    with store.session() as session:
        query = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
        return list(session.scalars(query.order_by(DeliveryAttempt.number)))


def status_of(store: Database, delivery_id: int) -> tuple[str, str]:
    with store.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row.status, row.trigger


@pytest.fixture
def partner(client: httpx.Client) -> dict[str, Any]:
    return create(client)


def failed_delivery(store: Database, settings: Settings, partner_id: int, n: int) -> int:
    """A delivery whose scheduled attempts all failed."""
    delivery_id = add_delivery(store, add_event(store, n), f"partner:{partner_id}")
    for _ in range(3):
        with store.session() as session:
            session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(next_attempt_at=None)
            )
        deliver(store, settings, [delivery_id], ok=False)
    assert status_of(store, delivery_id) == ("failed", "scheduled")
    return delivery_id


def test_listing_pages_newest_first_with_a_cursor(
    client: httpx.Client, store: Database, partner: dict[str, Any]
):
    other = create(client, name="other")
    mine = [add_delivery(store, add_event(store, n), f"partner:{partner['id']}") for n in range(7)]
    theirs = add_delivery(store, add_event(store, 100), f"partner:{other['id']}")
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"partner": partner["id"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/deliveries", params=params, headers=ADMIN).json()
        seen += [d["id"] for d in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(mine, reverse=True) and pages == 3
    everything = client.get("/api/deliveries", headers=ADMIN).json()
    assert [d["id"] for d in everything["items"]] == sorted([*mine, theirs], reverse=True)
    first = everything["items"][0]
    assert first["partner_id"] == other["id"] and first["event_type"] == "release.published"
    assert first["release_id"] == 100 and first["attempts"] == [] and first["status"] == "pending"


def test_listing_filters_by_status_and_time(
    client: httpx.Client, store: Database, app_settings: Settings, partner: dict[str, Any]
):
    failed = failed_delivery(store, app_settings, partner["id"], 1)
    pending = add_delivery(store, add_event(store, 2), f"partner:{partner['id']}")
    page = client.get("/api/deliveries", params={"status": "failed"}, headers=ADMIN).json()
    assert [d["id"] for d in page["items"]] == [failed]
    attempts = page["items"][0]["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert {a["trigger"] for a in attempts} == {"scheduled"}
    assert attempts[0]["status_code"] == 500 and attempts[0]["error_class"] == "http"
    assert attempts[0]["url"] == "https://93.184.215.14/hooks"
    assert attempts[0]["response"] == "boom" and attempts[0]["next_attempt_at"] is not None
    assert attempts[-1]["next_attempt_at"] is None and attempts[0]["duration_ms"] >= 0
    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert client.get("/api/deliveries", params={"since": later}, headers=ADMIN).json() == {
        "items": [],
        "next_cursor": None,
    }
    earlier = (utcnow() - timedelta(minutes=5)).isoformat()
    listed = client.get("/api/deliveries", params={"since": earlier}, headers=ADMIN).json()
    assert {d["id"] for d in listed["items"]} == {failed, pending}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "delivered"}, "status"),
        ({"status": "FAILED"}, "status"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "-5"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"partner": "x"}, "partner"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-28T09:00:00"}, "since"),
    ],
)
def test_bad_listing_parameters_name_the_field(
    client: httpx.Client, params: dict[str, Any], field: str
):
    answer = client.get("/api/deliveries", params=params, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in answer.json()["errors"]}


def test_a_long_response_is_cut_in_listings_and_whole_in_one_delivery(
    client: httpx.Client, store: Database, partner: dict[str, Any]
):
    delivery_id = add_delivery(store, add_event(store, 1), f"partner:{partner['id']}", "failed")
    with store.session() as session:
        session.execute(
            insert(DeliveryAttempt),
            [
                {
                    "delivery_id": delivery_id,
                    "number": 1,
                    "trigger": "scheduled",
                    "started_at": utcnow(),
                    "duration_ms": 4.2819359999839435,  # as a clock measures it
                    "outcome": "failed",
                    "status_code": 500,
                    "response": "가" * 5000,
                }
            ],
        )
    answer = client.get("/api/deliveries", headers=ADMIN)
    assert '"duration_ms":4.3' in answer.text  # a tenth of a millisecond, not the clock's noise
    listed = answer.json()["items"][0]
    assert len(listed["attempts"][0]["response"]) == 1000
    whole = client.get(f"/api/deliveries/{delivery_id}", headers=ADMIN).json()
    assert len(whole["attempts"][0]["response"]) == 5000
    assert client.get("/api/deliveries/99999", headers=ADMIN).status_code == 404


def test_replay_is_manual_and_never_retried_by_itself(
    client: httpx.Client, store: Database, app_settings: Settings, partner: dict[str, Any]
):
    delivery_id = failed_delivery(store, app_settings, partner["id"], 1)
    answer = client.post(f"/api/deliveries/{delivery_id}/replay", headers=ADMIN)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "pending" and body["next_trigger"] == "manual"
    assert body["next_attempt_at"] is None  # due now: the sweeper takes it within seconds
    # Whichever worker claims it (a plain scheduled batch) logs it as manual ...
    deliver(store, app_settings, [delivery_id], ok=False)
    attempts = attempts_of(store, delivery_id)
    assert [(a.number, a.trigger) for a in attempts][-1] == (4, "manual")
    # ... and a failed manual attempt is final: no retry is scheduled.
    assert attempts[-1].outcome == "failed" and attempts[-1].next_attempt_at is None
    assert status_of(store, delivery_id) == ("failed", "scheduled")
    # A replay that succeeds.
    client.post(f"/api/deliveries/{delivery_id}/replay", headers=ADMIN)
    deliver(store, app_settings, [delivery_id], ok=True)
    last = attempts_of(store, delivery_id)[-1]
    assert (last.number, last.trigger, last.outcome) == (5, "manual", "succeeded")
    shown = client.get(f"/api/deliveries/{delivery_id}", headers=ADMIN).json()
    assert [a["trigger"] for a in shown["attempts"]] == ["scheduled"] * 3 + ["manual"] * 2
    assert shown["status"] == "succeeded"
    # Each replay is in the audit log, as the console's actions are.
    with store.session() as session:
        audited = session.execute(
            select(AuditEntry.who, AuditEntry.action, AuditEntry.target).where(
                AuditEntry.action == "replay"
            )
        )
        api = api_actor(app_settings.admin_token or "")
        assert list(audited) == [(api, "replay", f"delivery:{delivery_id}")] * 2


def test_a_succeeded_delivery_can_be_replayed(
    client: httpx.Client, store: Database, app_settings: Settings, partner: dict[str, Any]
):
    delivery_id = add_delivery(store, add_event(store, 1), f"partner:{partner['id']}")
    deliver(store, app_settings, [delivery_id], ok=True)
    assert client.post(f"/api/deliveries/{delivery_id}/replay", headers=ADMIN).status_code == 202
    deliver(store, app_settings, [delivery_id], ok=True)
    assert [a.trigger for a in attempts_of(store, delivery_id)] == ["scheduled", "manual"]


def test_replay_refusals(
    client: httpx.Client, store: Database, app_settings: Settings, partner: dict[str, Any]
):
    busy = add_delivery(store, add_event(store, 1), f"partner:{partner['id']}", "in_progress")
    answer = client.post(f"/api/deliveries/{busy}/replay", headers=ADMIN)
    assert answer.status_code == 409 and "right now" in answer.json()["detail"]
    assert status_of(store, busy) == ("in_progress", "scheduled")
    failed = failed_delivery(store, app_settings, partner["id"], 2)
    client.post(f"/api/partners/{partner['id']}/disable", headers=ADMIN)
    answer = client.post(f"/api/deliveries/{failed}/replay", headers=ADMIN)
    assert answer.status_code == 409 and "enable it first" in answer.json()["detail"]
    client.delete(f"/api/partners/{partner['id']}", headers=ADMIN)
    answer = client.post(f"/api/deliveries/{failed}/replay", headers=ADMIN)
    assert answer.status_code == 409 and "deleted" in answer.json()["detail"]
    assert status_of(store, failed) == ("failed", "scheduled")
    # Only partner deliveries are in this log.
    with store.session() as session:
        session.execute(update(Delivery).where(Delivery.id == busy).values(channel="feeds"))
    assert client.post(f"/api/deliveries/{busy}/replay", headers=ADMIN).status_code == 404
    assert client.post("/api/deliveries/0/replay", headers=ADMIN).status_code == 422


def test_recover_resends_what_failed_since_a_time(
    client: httpx.Client, store: Database, app_settings: Settings, partner: dict[str, Any]
):
    old = failed_delivery(store, app_settings, partner["id"], 1)
    with store.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == old)
            .values(updated_at=utcnow() - timedelta(days=2))
        )
    recent = [failed_delivery(store, app_settings, partner["id"], n) for n in (2, 3)]
    succeeded = add_delivery(store, add_event(store, 4), f"partner:{partner['id']}")
    deliver(store, app_settings, [succeeded], ok=True)
    other = create(client, name="other")
    elsewhere = failed_delivery(store, app_settings, other["id"], 5)
    since = (utcnow() - timedelta(days=1)).isoformat()
    answer = client.post(
        f"/api/partners/{partner['id']}/recover", params={"since": since}, headers=ADMIN
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["resent"] == 2
    assert {status_of(store, i) for i in recent} == {("pending", "manual")}
    assert status_of(store, old) == ("failed", "scheduled")
    assert status_of(store, elsewhere) == ("failed", "scheduled")
    deliver(store, app_settings, recent, ok=True)
    for delivery_id in recent:
        last = attempts_of(store, delivery_id)[-1]
        assert (last.trigger, last.outcome) == ("manual", "succeeded")
    assert [a.trigger for a in attempts_of(store, succeeded)] == ["scheduled"]
    # Nothing failed since: nothing to do.
    again = client.post(
        f"/api/partners/{partner['id']}/recover", params={"since": since}, headers=ADMIN
    )
    assert again.json()["resent"] == 0


def test_recover_refusals(client: httpx.Client, partner: dict[str, Any]):
    path = f"/api/partners/{partner['id']}/recover"
    assert "since" in {e["field"] for e in client.post(path, headers=ADMIN).json()["errors"]}
    naive = client.post(path, params={"since": "2026-11-28T09:00:00"}, headers=ADMIN)
    assert naive.status_code == 422
    when = {"since": "2026-11-28T09:00:00Z"}
    assert client.post("/api/partners/999/recover", params=when, headers=ADMIN).status_code == 404
    client.post(f"/api/partners/{partner['id']}/disable", headers=ADMIN)
    assert client.post(path, params=when, headers=ADMIN).status_code == 409
