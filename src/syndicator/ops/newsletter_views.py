"""What the console shows of newsletters' deliverability: each newsletter's bounce and
complaint rates, and a subscriber's story (every bounce and complaint with its evidence,
and why they are suppressed). Addresses are never shown: a subscriber is their id.

Every query is bounded: the window's newsletters, one release's events, one subscriber's
newest rows through ``ix_mail_feedback_subscriber`` and ``ix_deliveries_target``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from syndicator.mail.rates import NewsletterRates, WindowRates, newsletter_rates, window_rates
from syndicator.ops.console_views import AttemptLine, _line
from syndicator.store.db import Database
from syndicator.store.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    MailFeedback,
    Release,
    Subscriber,
    utcnow,
)

__all__ = [
    "FEEDBACK_LABELS",
    "SUPPRESSED_BECAUSE",
    "FeedbackLine",
    "NewsletterLine",
    "SubscriberStory",
    "newsletter_lines",
    "release_rates",
    "subscriber_story",
]

FEEDBACK_LABELS = {
    "hard_bounce": "영구 반송 (hard bounce)",
    "soft_bounce": "일시 반송 (soft bounce)",
    "complaint": "수신자 신고 (complaint)",
}
# Why nothing is mailed to a suppressed subscriber, by ``subscribers.suppressed_kind``.
SUPPRESSED_BECAUSE = {
    "hard_bounce": "영구 반송: 메일함이나 도메인이 없다는 반송(5.x.x)을 받아 발송을 멈췄습니다.",
    "soft_bounce": "일시 반송이 짧은 기간에 거듭되어(메일함 가득 참 등) 발송을 멈췄습니다.",
    "complaint": "수신자가 메일을 스팸으로 신고하여 모든 구독을 해지하고 발송을 멈췄습니다.",
    "smtp": "발송 중 메일 서버가 메일함이 없다고(5.1.x) 답하여 발송을 멈췄습니다.",
}
_STORY_ROWS = 100
_STORY_DELIVERIES = 20


@dataclass(frozen=True)
class NewsletterLine:
    rates: NewsletterRates
    kind: str  # the event's type: release.published, digest.daily ...
    release_id: int | None  # None for a digest
    title: str | None


def newsletter_lines(
    db: Database, now: datetime | None = None
) -> tuple[WindowRates, list[NewsletterLine]]:
    """The newsletters last sent in the past 7 days, newest first, with their releases."""
    with db.read_session() as session:
        window = window_rates(session, now or utcnow())
        ids = [n.event_id for n in window.newsletters]
        events = {
            event_id: (event_type, release_id, title)
            for event_id, event_type, release_id, title in session.execute(
                select(Event.id, Event.type, Event.release_id, Release.title)
                .outerjoin(Release, Release.id == Event.release_id)
                .where(Event.id.in_(ids))
            )
        }
    lines = []
    for rates in window.newsletters:
        event_type, release_id, title = events.get(rates.event_id, ("?", None, None))
        is_release = bool(release_id) and not event_type.startswith("digest.")
        lines.append(
            NewsletterLine(
                rates, event_type, release_id if is_release else None, title if is_release else None
            )
        )
    return window, lines


def release_rates(db: Database, event_ids: list[str]) -> list[NewsletterRates]:
    """The rates of a release's events that sent newsletters (none: no mail went out)."""
    with db.read_session() as session:
        return [r for r in newsletter_rates(session, event_ids) if r.sent or any(r.counts.values())]


@dataclass(frozen=True)
class FeedbackLine:
    id: int
    kind: str
    source: str
    status: str | None
    diagnostic: str | None
    answered_message_id: str | None
    evidence: str | None
    received_at: datetime
    delivery_id: int | None
    event_id: str | None
    release_id: int | None


@dataclass(frozen=True)
class DeliveryLine:
    delivery_id: int
    event_id: str
    release_id: int | None
    status: str
    attempts: list[AttemptLine]


@dataclass(frozen=True)
class SubscriberStory:
    id: int
    status: str
    mode: str
    language: str
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    suppressed_kind: str | None
    suppressed_at: datetime | None
    suppressed_reason: str | None
    feedback: list[FeedbackLine]
    deliveries: list[DeliveryLine]

    @property
    def suppressed_because(self) -> str | None:
        if self.status != "suppressed":
            return None
        return SUPPRESSED_BECAUSE.get(
            self.suppressed_kind or "", "발송을 멈춘 이유가 기록되지 않았습니다."
        )


def subscriber_story(db: Database, subscriber_id: int) -> SubscriberStory | None:
    """One subscriber's state, their newest bounces and complaints with the evidence, and
    their newest newsletter deliveries with every attempt; None when there is no such
    subscriber."""
    target = f"subscriber:{subscriber_id}"
    with db.read_session() as session:
        s = session.get(Subscriber, subscriber_id)
        if s is None:
            return None
        rows = session.execute(
            select(MailFeedback, Delivery.event_id, Event.release_id, Event.type)
            .outerjoin(Delivery, Delivery.id == MailFeedback.delivery_id)
            .outerjoin(Event, Event.id == Delivery.event_id)
            .where(MailFeedback.subscriber_id == subscriber_id)
            .order_by(MailFeedback.received_at.desc(), MailFeedback.id.desc())
            .limit(_STORY_ROWS)
        )
        feedback = [
            FeedbackLine(
                f.id,
                f.kind,
                f.source,
                f.status,
                f.diagnostic,
                f.answered_message_id,
                f.evidence,
                f.received_at,
                f.delivery_id,
                event_id,
                _release_of(release_id, event_type),
            )
            for f, event_id, release_id, event_type in rows
        ]
        deliveries = list(
            session.execute(
                select(Delivery, Event.release_id, Event.type)
                .outerjoin(Event, Event.id == Delivery.event_id)
                .where(Delivery.channel == "email", Delivery.target == target)
                .order_by(Delivery.id.desc())
                .limit(_STORY_DELIVERIES)
            )
        )
        attempts: dict[int, list[AttemptLine]] = {d.id: [] for d, _, _ in deliveries}
        if attempts:
            for a in session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id.in_(list(attempts)))
                .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number, DeliveryAttempt.id)
            ):
                attempts[a.delivery_id].append(_line(a, "email", target))
        return SubscriberStory(
            s.id,
            s.status,
            s.mode,
            s.language,
            s.created_at,
            s.confirmed_at,
            s.unsubscribed_at,
            s.suppressed_kind,
            s.suppressed_at,
            s.suppressed_reason,
            feedback,
            [
                DeliveryLine(d.id, d.event_id, _release_of(rid, etype), d.status, attempts[d.id])
                for d, rid, etype in deliveries
            ],
        )


def _release_of(release_id: int | None, event_type: str | None) -> int | None:
    if not release_id or (event_type or "").startswith("digest."):
        return None
    return release_id
