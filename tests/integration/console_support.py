"""What the ops console tests share: a release with scripted partner deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from sqlalchemy import select

from syndicator.channels.base import BatchContext, DeliveryOutcome, EventRecord, SyncChannel
from syndicator.delivery.runner import plan_event, run_claimed
from syndicator.events.schema import CmsEvent
from syndicator.intake.accept import accept_event
from syndicator.ledger.claims import Claimed, claim
from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, Partner
from tests.factories import make_event

__all__ = [
    "RecordingEmail",
    "ScriptedWebhooks",
    "add_partners",
    "audit_rows",
    "deliver_webhooks",
    "release",
]


class ScriptedWebhooks(SyncChannel):
    """partner:1 answers 200; partner:2 a retryable 503; partner:3 a permanent 410."""

    name: ClassVar[str] = "webhooks"
    queue: ClassVar[str] = "webhooks"
    retry_schedule: ClassVar[tuple[float, ...]] = (3600,)
    script: ClassVar[dict[str, tuple[bool, bool, int]]] = {
        "partner:1": (True, True, 200),
        "partner:2": (False, True, 503),
        "partner:3": (False, False, 410),
    }

    def __init__(self) -> None:
        pass

    def plan(self, event: EventRecord) -> Iterator[str]:
        return iter(self.script)

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        ok, retryable, status = self.script[job.target]
        return DeliveryOutcome(
            job.delivery_id,
            ok=ok,
            retryable=retryable,
            error_class=None if ok else "http",
            detail=None if ok else f"HTTP {status} <b>gone</b>",
            status_code=status,
            duration_ms=12.0,
        )


class RecordingEmail(SyncChannel):
    """Sends nothing, records which deliveries it was given."""

    name: ClassVar[str] = "email"
    queue: ClassVar[str] = "email"

    def __init__(self) -> None:
        self.sent: list[int] = []

    def plan(self, event: EventRecord) -> Iterator[str]:
        return iter(())

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        self.sent.append(job.delivery_id)
        return DeliveryOutcome(job.delivery_id, ok=True, duration_ms=1.0)


def release(db: Database, release_id: int = 7) -> str:
    event = CmsEvent.model_validate(make_event(release_id))
    accepted = accept_event(db, event, webhook_id=f"msg_console_{release_id}")
    return accepted.event_id


def deliver_webhooks(db: Database, event_id: str, release_id: int = 7) -> list[int]:
    channel = ScriptedWebhooks()
    record = EventRecord(event_id, "release.published", release_id, "hook", {})
    ids: list[int] = []
    plan_event(db, {channel.name: channel}, record, lambda item: ids.extend(item.delivery_ids))
    with db.session() as session:
        jobs = claim(session, ids)
    run_claimed(db, channel, jobs)
    return ids


def add_partners(db: Database) -> None:
    with db.session() as session:
        for name in ("a", "b", "c"):
            session.add(
                Partner(
                    name=f"파트너 {name}",
                    url=f"https://{name}.example",
                    headers={},
                    departments=[],
                    categories=[],
                )
            )


def audit_rows(db: Database) -> list[tuple[str, str, str]]:
    """(who, action, target); a console actor's random session ref is left out:
    ``console:<ref>:<name>`` reads ``console:<name>``."""
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(_without_ref(r.who), r.action, r.target) for r in rows]


def _without_ref(who: str) -> str:
    via, _, rest = who.partition(":")
    return f"console:{rest.partition(':')[2]}" if via == "console" else who
