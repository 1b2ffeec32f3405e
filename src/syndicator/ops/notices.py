"""The operators' notices as the API shows them: each notice, what it is about, and every
attempt to mail it (the ``notices`` channel's ledger rows, newest first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from syndicator.intake.notices import CHANNEL
from syndicator.ledger.attempts import attempts_by_delivery
from syndicator.ops.actions import replay_delivery
from syndicator.partners.delivery_log import DurationMs
from syndicator.store.db import Database
from syndicator.store.models import Delivery, DeliveryAttempt, Event

__all__ = [
    "MAX_NOTICES",
    "NoticeAttempt",
    "NoticeNotFound",
    "NoticeView",
    "get_notice",
    "recent_notices",
    "replay_notice",
]

MAX_NOTICES = 200


class NoticeAttempt(BaseModel):
    number: int
    trigger: str = Field(description="scheduled | manual (a replay)")
    started_at: datetime
    duration_ms: DurationMs
    outcome: str = Field(description="succeeded | retrying | failed | suppressed | uncertain")
    status_code: int | None = Field(description="The SMTP reply code; 0 with no reply.")
    error_class: str | None = Field(
        description="E_SMTP_TEMPORARY | E_SMTP_MAILBOX_GONE | E_SMTP_POLICY | "
        "E_SMTP_PERMANENT | E_SMTP_UNCERTAIN | E_NO_OPS_EMAIL | E_UNKNOWN_NOTICE"
    )
    detail: str | None
    message_id: str | None = Field(description="The Message-ID, the same on every attempt.")


class NoticeView(BaseModel):
    delivery_id: int = Field(description="Replay it with POST /api/notices/{delivery_id}/replay.")
    event_id: str
    type: str = Field(description="What happened, e.g. partner.disabled.")
    raised_at: datetime
    about: dict[str, Any] = Field(
        description="The notice's facts (partner.disabled: partner_id, name, url, reason)."
    )
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    last_error: str | None
    attempts: list[NoticeAttempt] = Field(description="Oldest first.")


class NoticeNotFound(LookupError):
    def __init__(self, delivery_id: int) -> None:
        super().__init__(f"no notice delivery {delivery_id}")


def _notices() -> Any:
    return (
        select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.channel == CHANNEL)
    )


def recent_notices(db: Database, limit: int = 50) -> list[NoticeView]:
    """The newest ``limit`` notices (at most :data:`MAX_NOTICES`), newest first."""
    limit = max(1, min(limit, MAX_NOTICES))
    return _views(db, _notices().order_by(Delivery.id.desc()).limit(limit))


def get_notice(db: Database, delivery_id: int) -> NoticeView:
    found = _views(db, _notices().where(Delivery.id == delivery_id))
    if not found:
        raise NoticeNotFound(delivery_id)
    return found[0]


def replay_notice(db: Database, delivery_id: int, who: str) -> NoticeView:
    """Mail a notice again now (audited; the attempt is logged as manual). Refused with
    :class:`ActionRefused` while a worker is sending it."""
    get_notice(db, delivery_id)
    replay_delivery(db, who, delivery_id)
    return get_notice(db, delivery_id)


def _attempt(a: DeliveryAttempt) -> NoticeAttempt:
    return NoticeAttempt(
        number=a.number,
        trigger=a.trigger,
        started_at=a.started_at,
        duration_ms=a.duration_ms,
        outcome=a.outcome,
        status_code=a.status_code,
        error_class=a.error_class,
        detail=a.detail,
        message_id=a.message_id,
    )


def _views(db: Database, query: Any) -> list[NoticeView]:
    with db.read_session() as session:
        rows = list(session.execute(query))
        attempts = attempts_by_delivery(session, [delivery.id for delivery, _ in rows])
        return [
            NoticeView(
                delivery_id=delivery.id,
                event_id=event.id,
                type=event.type,
                raised_at=event.received_at,
                about=event.payload,
                status=delivery.status,
                attempt_count=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                last_error=delivery.last_error,
                attempts=[_attempt(a) for a in attempts[delivery.id]],
            )
            for delivery, event in rows
        ]
