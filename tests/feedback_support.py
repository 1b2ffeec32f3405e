"""Bounces and complaints written straight into ``mail_feedback``, with the newsletters
and deliveries they answer: what the recording rules would leave behind."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from syndicator.store.models import Delivery, Event, MailFeedback, NewsletterSend, utcnow

__all__ = ["add_delivery", "add_feedback", "add_newsletter"]


def add_newsletter(
    session: Session,
    event_id: str,
    sent: int | None = None,
    at: datetime | None = None,
    release_id: int = 1,
) -> str:
    """An email event; with ``sent``, its count of messages sent as of ``at``."""
    at = at or utcnow()
    session.add(
        Event(
            id=event_id,
            webhook_id=f"msg_{event_id}",
            type="release.published",
            release_id=release_id,
            source="hook",
            outcome="applied",
            received_at=at,
            payload={},
        )
    )
    if sent is not None:
        session.add(NewsletterSend(event_id=event_id, sent=sent, first_sent_at=at, last_sent_at=at))
    session.flush()
    return event_id


def add_delivery(
    session: Session, event_id: str, subscriber_id: int, status: str = "succeeded"
) -> int:
    target = f"subscriber:{subscriber_id}"
    row = Delivery(
        key=f"{event_id}:email:{target}",
        event_id=event_id,
        channel="email",
        target=target,
        status=status,
        attempts=1,
    )
    session.add(row)
    session.flush()
    return row.id


def add_feedback(
    session: Session,
    delivery_id: int | None,
    kind: str,
    *,
    subscriber_id: int | None = None,
    at: datetime | None = None,
    source: str = "pipe",
    status: str | None = None,
    diagnostic: str | None = None,
    answered: str | None = None,
    evidence: str | None = None,
) -> int:
    row = MailFeedback(
        subscriber_id=subscriber_id,
        delivery_id=delivery_id,
        kind=kind,
        source=source,
        status=status,
        diagnostic=diagnostic,
        answered_message_id=answered,
        evidence=evidence,
        received_at=at or utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id
