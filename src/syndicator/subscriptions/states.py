"""A subscriber's states and the moves between them, apart from any web or mail code.

    pending --confirm--> active --unsubscribe--> unsubscribed
       ^                   |                          |
       +------ subscribe again (a new confirmation) --+
    active --hard bounce (5.1.x)--> suppressed --an operator lifts it--> unsubscribed
    erased is final (see erasure.py).

A suppressed address is sent nothing, a confirmation included, until an operator lifts
the suppression: its mailbox is gone, and a request for it gets the same answer as any
other so that nobody learns it bounced.

Every function takes an open session and leaves committing to its caller.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator.store.audit import write_audit
from syndicator.store.models import Subscriber, utcnow
from syndicator.subscriptions.preferences import Preferences, save_topics

__all__ = [
    "ConfirmResult",
    "LiftResult",
    "MailToSend",
    "SubscribeResult",
    "change_preferences",
    "confirm",
    "lift_suppression",
    "live_subscriber",
    "request_subscription",
    "unsubscribe",
]

# States a new request may restart from: the resident asked again, so they must confirm.
_RESTARTABLE = {"pending", "unsubscribed"}


class MailToSend(enum.Enum):
    CONFIRM = "confirm"  # a link to confirm (pending)
    ALREADY_SUBSCRIBED = "already_subscribed"  # a note with the preferences link (active)
    NOTHING = "nothing"  # suppressed: the mailbox bounced, and nothing is sent to it


@dataclass(frozen=True)
class SubscribeResult:
    subscriber_id: int
    mail: MailToSend
    created: bool


def live_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    """The row a token points at, unless it was erased."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status == "erased" or subscriber.email is None:
        return None
    return subscriber


def request_subscription(session: Session, address: str, prefs: Preferences) -> SubscribeResult:
    """A resident asked to subscribe ``address`` (already normalised).

    An active subscriber's preferences are never changed here: anyone may type anyone's
    address, so only the holder of a preferences link may change them.
    """
    subscriber = session.scalars(select(Subscriber).where(Subscriber.email == address)).first()
    if subscriber is not None and subscriber.status == "active":
        return SubscribeResult(subscriber.id, MailToSend.ALREADY_SUBSCRIBED, created=False)
    if subscriber is not None and subscriber.status == "suppressed":
        return SubscribeResult(subscriber.id, MailToSend.NOTHING, created=False)
    created = subscriber is None
    now = utcnow()
    if subscriber is None:
        subscriber = Subscriber(email=address, created_at=now, consent="double_opt_in")
        session.add(subscriber)
    elif subscriber.status in _RESTARTABLE:
        subscriber.consent = "double_opt_in"
    subscriber.status = "pending"
    subscriber.updated_at = now
    save_topics(session, subscriber, prefs)
    return SubscribeResult(subscriber.id, MailToSend.CONFIRM, created=created)


class ConfirmResult(enum.Enum):
    CONFIRMED = "confirmed"
    ALREADY_ACTIVE = "already_active"
    NOT_PENDING = "not_pending"  # unsubscribed since: a new request is needed
    GONE = "gone"  # erased, or never existed


def confirm(session: Session, subscriber_id: int) -> ConfirmResult:
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber is None:
        return ConfirmResult.GONE
    if subscriber.status == "active":
        return ConfirmResult.ALREADY_ACTIVE
    if subscriber.status != "pending":
        return ConfirmResult.NOT_PENDING
    now = utcnow()
    subscriber.status = "active"
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    subscriber.suppressed_reason = None
    subscriber.updated_at = now
    return ConfirmResult.CONFIRMED


def unsubscribe(session: Session, subscriber_id: int) -> bool:
    """Stop every mail at once. True when the subscriber exists (already unsubscribed
    included: one-click may be pressed twice); False when erased or unknown."""
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber is None:
        return False
    if subscriber.status != "unsubscribed":
        now = utcnow()
        subscriber.status = "unsubscribed"
        subscriber.unsubscribed_at = now
        subscriber.updated_at = now
    return True


def change_preferences(
    session: Session, subscriber_id: int, prefs: Preferences
) -> Subscriber | None:
    """Save new preferences from a preferences link. Holding that link proves the mailbox
    (it only ever arrives there), so a subscriber who had left is active again."""
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber is None:
        return None
    now = utcnow()
    save_topics(session, subscriber, prefs)
    if subscriber.status in ("unsubscribed", "pending"):
        subscriber.status = "active"
        subscriber.confirmed_at = subscriber.confirmed_at or now
        subscriber.unsubscribed_at = None
    subscriber.updated_at = now
    return subscriber


class LiftResult(enum.Enum):
    LIFTED = "lifted"
    NOT_SUPPRESSED = "not_suppressed"
    GONE = "gone"  # erased, or never existed


def lift_suppression(session: Session, subscriber_id: int, who: str) -> LiftResult:
    """An operator's word that the mailbox works again. The subscriber becomes
    ``unsubscribed``: a new request sends a confirmation, and nothing is mailed before
    they confirm it. Audited in the caller's transaction."""
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber is None:
        return LiftResult.GONE
    if subscriber.status != "suppressed":
        return LiftResult.NOT_SUPPRESSED
    now = utcnow()
    subscriber.status = "unsubscribed"
    subscriber.suppressed_reason = None
    subscriber.unsubscribed_at = subscriber.unsubscribed_at or now
    subscriber.updated_at = now
    write_audit(session, who, "unsuppress", f"subscriber:{subscriber_id}")
    return LiftResult.LIFTED
