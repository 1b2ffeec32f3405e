"""What a bounce or complaint does: the one place that acts on a :class:`Feedback`.

A report is tied to a subscriber (and the delivery it answers) by, in this order:

1. its VERP tag, which we signed (:mod:`syndicator.bounces.verp`); a tag that does not
   verify counts for nothing, and the report is judged by the rest of its evidence;
2. the Message-ID it answers, when that is one of ours, an attempt of that delivery logged
   it, and the recipient it names is that subscriber's address (Message-IDs are
   predictable, so the id alone is not enough);
3. the recipient alone, only for sources that authenticate themselves (a provider's
   signed webhook): a mail's body, its Return-Path or Errors-To are anyone's to write.

Then, for a subscriber still on file:

- hard bounce (5.x.x): suppressed at once; but a 5.7.x answer is the receiver's policy
  (spam filters, block lists), not a dead mailbox, and is kept without suppressing;
- soft bounce (4.x.x): suppressed when ``settings.soft_bounce_limit`` messages bounced
  softly within ``settings.soft_bounce_days``, counting only those sent after the last
  message we know arrived (one of ours that nothing came back for, sent before one that
  bounced later);
- complaint: unsubscribed from everything (every link mailed so far stops working) and
  suppressed.

Every report tied to a subscriber is kept in ``mail_feedback`` with its evidence; one whose
``dedupe_key`` was seen before changes nothing. The caller commits.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicator.bounces import verp
from syndicator.bounces.feedback import Feedback
from syndicator.config import Settings
from syndicator.ledger.targets import delivery_key
from syndicator.logs import kv
from syndicator.mail.audience import parse_target, subscriber_target
from syndicator.store.models import (
    Delivery,
    DeliveryAttempt,
    MailFeedback,
    Subscriber,
    utcnow,
)

__all__ = [
    "AUTHENTICATED_SOURCES",
    "Action",
    "Outcome",
    "RecordOutcome",
    "record_feedback",
]

log = logging.getLogger("syndicator.bounces")

# Sources whose reports are signed by who sent them: their word on a recipient is enough.
AUTHENTICATED_SOURCES = frozenset({"ses", "postmark", "mailgun", "sendgrid"})
_CHANNEL = "email"
# Column sizes of mail_feedback.
_SHORT, _ID = 20, 300
_EVIDENCE_CHARS = 4000


class Outcome(enum.Enum):
    RECORDED = "recorded"  # kept (and acted on, see the action)
    DUPLICATE = "duplicate"  # the same report was kept before: nothing changed
    UNMATCHED = "unmatched"  # tied to no subscriber of ours: nothing kept


class Action(enum.Enum):
    NONE = "none"  # kept only (a soft bounce under the limit, a policy refusal, ...)
    SUPPRESSED = "suppressed"
    UNSUBSCRIBED = "unsubscribed"  # a complaint: unsubscribed from everything, suppressed


@dataclass(frozen=True)
class RecordOutcome:
    outcome: Outcome
    action: Action = Action.NONE
    subscriber_id: int | None = None
    delivery_id: int | None = None
    feedback_id: int | None = None
    # Why, in a few words, for logs and `syndicator bounces ingest --json`.
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "action": self.action.value,
            "subscriber_id": self.subscriber_id,
            "delivery_id": self.delivery_id,
            "feedback_id": self.feedback_id,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class _Match:
    subscriber: Subscriber
    delivery_id: int | None
    how: str  # verp | message_id | recipient


def record_feedback(session: Session, feedback: Feedback, settings: Settings) -> RecordOutcome:
    """Tie ``feedback`` to a subscriber, keep it and act on it (see the module's doc)."""
    if feedback.dedupe_key and _seen(session, feedback.dedupe_key):
        return RecordOutcome(Outcome.DUPLICATE, reason="seen before")
    match = _match(session, feedback, settings)
    if isinstance(match, str):
        log.info(
            kv(msg="feedback unmatched", kind=feedback.kind, source=feedback.source, why=match)
        )
        return RecordOutcome(Outcome.UNMATCHED, reason=match)
    row = _keep(session, feedback, match)
    if row is None:  # a concurrent copy of the same report won the unique key
        return RecordOutcome(Outcome.DUPLICATE, reason="seen before")
    action, why = _act(session, feedback, match.subscriber, settings)
    subscriber_id = match.subscriber.id
    log.info(
        kv(
            msg="feedback recorded",
            kind=feedback.kind,
            source=feedback.source,
            status=feedback.status,
            target=subscriber_target(subscriber_id),
            delivery_id=match.delivery_id,
            matched_by=match.how,
            action=action.value,
        )
    )
    return RecordOutcome(Outcome.RECORDED, action, subscriber_id, match.delivery_id, row.id, why)


def _seen(session: Session, key: str) -> bool:
    found = session.scalar(select(MailFeedback.id).where(MailFeedback.dedupe_key == key[:_ID]))
    return found is not None


# --- matching ---


def _match(session: Session, feedback: Feedback, settings: Settings) -> _Match | str:
    """The subscriber (and delivery) a report is about, or why it is about nobody."""
    tag_failed = ""
    if feedback.verp_tag:
        tagged = _by_tag(session, feedback.verp_tag, settings)
        if isinstance(tagged, _Match):
            return tagged
        # Not ours, or forged: the report is then only as good as its other evidence.
        tag_failed = f"{tagged}; "
    if feedback.answered_message_id and feedback.recipient:
        found = _by_message_id(session, feedback.answered_message_id, feedback.recipient, settings)
        if found is not None:
            return found
    if feedback.source in AUTHENTICATED_SOURCES and feedback.recipient:
        subscriber = session.scalar(
            select(Subscriber).where(Subscriber.email == _address(feedback.recipient))
        )
        if _on_file(subscriber):
            assert subscriber is not None
            return _Match(subscriber, None, "recipient")
        return tag_failed + "no subscriber has this address"
    return tag_failed + "no VERP tag, and no Message-ID of ours sent to this recipient"


def _by_tag(session: Session, tag: str, settings: Settings) -> _Match | str:
    ids = verp.read_tag(settings, tag)
    if ids is None:
        return "VERP tag forged or damaged"
    subscriber = session.get(Subscriber, ids.subscriber_id) if ids.subscriber_id else None
    if not _on_file(subscriber):
        return "the tagged subscriber is gone"
    assert subscriber is not None
    delivery_id = None
    if ids.delivery_id:
        delivery = session.get(Delivery, ids.delivery_id)
        # Signed together, so they agree; a delivery since deleted is simply not named.
        if delivery is not None and delivery.target == subscriber_target(subscriber.id):
            delivery_id = delivery.id
    return _Match(subscriber, delivery_id, "verp")


def _by_message_id(
    session: Session, message_id: str, recipient: str, settings: Settings
) -> _Match | None:
    """Our Message-IDs read ``<event.subscriber@site_domain>`` (mail/newsletter.py): the
    delivery is found by its key, then an attempt must have logged that very id."""
    bare = message_id.strip().strip("<>")
    local, _, domain = bare.rpartition("@")
    event_id, _, number = local.rpartition(".")
    if domain.lower() != settings.site_domain.lower() or not number.isdigit() or not event_id:
        return None
    target = subscriber_target(int(number))
    delivery = session.scalar(
        select(Delivery).where(Delivery.key == delivery_key(event_id, _CHANNEL, target))
    )
    if delivery is None:
        return None
    logged = session.scalar(
        select(DeliveryAttempt.id)
        .where(
            DeliveryAttempt.delivery_id == delivery.id,
            DeliveryAttempt.message_id == f"<{bare}>",
        )
        .limit(1)
    )
    subscriber_id = parse_target(delivery.target)
    subscriber = session.get(Subscriber, subscriber_id) if subscriber_id else None
    if logged is None or not _on_file(subscriber):
        return None
    assert subscriber is not None and subscriber.email is not None
    if subscriber.email.lower() != _address(recipient):
        return None
    return _Match(subscriber, delivery.id, "message_id")


def _on_file(subscriber: Subscriber | None) -> bool:
    return subscriber is not None and subscriber.status != "erased" and bool(subscriber.email)


def _address(recipient: str) -> str:
    """A report's recipient (``rfc822;Name@Example.KR``, ``<x@y>``) as we store addresses."""
    value = recipient.strip()
    if ";" in value:
        value = value.split(";", 1)[1]
    return value.strip().strip("<>").strip().lower()


# --- keeping ---


def _keep(session: Session, feedback: Feedback, match: _Match) -> MailFeedback | None:
    row = MailFeedback(
        subscriber_id=match.subscriber.id,
        delivery_id=match.delivery_id,
        kind=feedback.kind,
        source=feedback.source[:_SHORT],
        status=_clip(feedback.status, _SHORT),
        diagnostic=feedback.diagnostic,
        answered_message_id=_clip(feedback.answered_message_id, _ID),
        evidence=_clip(feedback.evidence, _EVIDENCE_CHARS),
        dedupe_key=_clip(feedback.dedupe_key, _ID),
        received_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def _clip(text: str | None, size: int) -> str | None:
    return text[:size] if text else None


# --- acting ---


def _act(
    session: Session, feedback: Feedback, subscriber: Subscriber, settings: Settings
) -> tuple[Action, str]:
    if feedback.kind == "complaint":
        _unsubscribe(subscriber)
        _suppress(subscriber, "complaint", _reason(feedback, "marked as spam"))
        return Action.UNSUBSCRIBED, "complaint: unsubscribed from everything"
    if feedback.kind == "hard_bounce":
        if (feedback.status or "").startswith("5.7."):
            return Action.NONE, "policy refusal (5.7.x): kept, not suppressed"
        if _suppress(subscriber, "hard_bounce", _reason(feedback, "hard bounce")):
            return Action.SUPPRESSED, "hard bounce: suppressed"
        return Action.NONE, f"hard bounce: already {subscriber.status}"
    count = _soft_bounces(session, subscriber.id, settings)
    if count < settings.soft_bounce_limit:
        return Action.NONE, f"soft bounce {count} of {settings.soft_bounce_limit}"
    if _suppress(subscriber, "soft_bounce", _reason(feedback, f"{count} soft bounces")):
        return Action.SUPPRESSED, f"soft bounce {count} of {settings.soft_bounce_limit}: suppressed"
    return Action.NONE, f"soft bounce: already {subscriber.status}"


def _reason(feedback: Feedback, fallback: str) -> str:
    words = " ".join(part for part in (feedback.status, feedback.diagnostic) if part)
    return (words or fallback)[:500]


def _unsubscribe(subscriber: Subscriber) -> None:
    now = utcnow()
    if subscriber.status != "unsubscribed":
        subscriber.unsubscribed_at = subscriber.unsubscribed_at or now
    subscriber.links_version += 1  # every link mailed so far stops working
    subscriber.updated_at = now


def _suppress(subscriber: Subscriber, kind: str, reason: str) -> bool:
    """Suppress a subscriber who may still be mailed (or asked to confirm): True when
    that changed something. A complaint outranks an earlier bounce's kind."""
    if subscriber.status == "suppressed":
        if kind == "complaint" and subscriber.suppressed_kind != "complaint":
            subscriber.suppressed_kind = kind
            subscriber.suppressed_reason = reason
            return True
        return False
    now = utcnow()
    subscriber.status = "suppressed"
    subscriber.suppressed_kind = kind
    subscriber.suppressed_reason = reason
    subscriber.suppressed_at = subscriber.updated_at = now
    log.info(kv(msg="subscriber suppressed", target=subscriber_target(subscriber.id), kind=kind))
    return True


def _soft_bounces(session: Session, subscriber_id: int, settings: Settings) -> int:
    """Messages that bounced softly within the window, sent after the last message we
    take to have arrived. A message counts once however many reports it drew."""
    since = utcnow() - timedelta(days=settings.soft_bounce_days)
    rows = session.execute(
        select(MailFeedback.delivery_id, MailFeedback.received_at).where(
            MailFeedback.subscriber_id == subscriber_id,
            MailFeedback.kind == "soft_bounce",
            MailFeedback.received_at >= since,
        )
    ).all()
    bounced_ids = {d for d, _ in rows if d is not None}
    sent = _sent_at(session, bounced_ids)
    # When each bounced message left (its report's arrival when the delivery is unknown).
    bounces = [(d, sent.get(d, received) if d else received) for d, received in rows]
    if not bounces:
        return 0
    newest = max(at for _, at in bounces)
    arrived = _last_arrived(session, subscriber_id, newest)
    fresh = [(d, at) for d, at in bounces if arrived is None or at > arrived]
    return len({d for d, _ in fresh if d is not None}) + sum(1 for d, _ in fresh if d is None)


def _sent_at(session: Session, delivery_ids: set[int]) -> dict[int, datetime]:
    if not delivery_ids:
        return {}
    rows = session.execute(
        select(DeliveryAttempt.delivery_id, func.max(DeliveryAttempt.started_at))
        .where(
            DeliveryAttempt.delivery_id.in_(delivery_ids),
            DeliveryAttempt.outcome == "succeeded",
        )
        .group_by(DeliveryAttempt.delivery_id)
    ).all()
    return {d: at for d, at in rows if at is not None}


def _last_arrived(session: Session, subscriber_id: int, before: datetime) -> datetime | None:
    """The newest message to this subscriber that the server took, that no report came
    back for, and that left before ``before`` (a later one's fate is not known yet)."""
    answered = select(MailFeedback.delivery_id).where(
        MailFeedback.subscriber_id == subscriber_id, MailFeedback.delivery_id.is_not(None)
    )
    return session.scalar(
        select(func.max(DeliveryAttempt.started_at))
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(
            Delivery.channel == _CHANNEL,
            Delivery.target == subscriber_target(subscriber_id),
            DeliveryAttempt.outcome == "succeeded",
            DeliveryAttempt.started_at < before,
            Delivery.id.not_in(answered),
        )
    )
