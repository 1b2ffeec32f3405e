"""A subscriber's states and the moves between them, apart from any web or mail code.

    pending --confirm--> active --unsubscribe--> unsubscribed
       ^                   |                          |
       +------ subscribe again (a new confirmation) --+
    active --bounce or complaint--> suppressed --an operator lifts it--> unsubscribed
                                    suppressed --the resident asks, from their
                                                 preferences link--> pending (confirm again)
    erased is final (see erasure.py).

A suppressed address is sent nothing, a confirmation included, until the suppression is
lifted: a request to subscribe it gets the same answer as any other so that nobody learns
it bounced. Only the holder of its preferences link (or an operator) can lift it.

Every function takes an open session and leaves committing to its caller.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syndicator.i18n import DEFAULT_LANGUAGE
from syndicator.store.audit import write_audit
from syndicator.store.models import Subscriber, SubscriptionRequest, utcnow
from syndicator.subscriptions.mailbox import canonical_mailbox, domain_spellings
from syndicator.subscriptions.preferences import Preferences, clean_mode, save_topics
from syndicator.subscriptions.tokens import CONFIRM_MAX_AGE
from syndicator.subscriptions.welcome import plan_welcome

__all__ = [
    "RESIDENT_ACTOR",
    "ConfirmResult",
    "LiftResult",
    "MailToSend",
    "PreferencesResult",
    "SubscribeResult",
    "change_preferences",
    "confirm",
    "lift_suppression",
    "link_is_current",
    "live_subscriber",
    "mailbox_suppressed",
    "new_links",
    "request_subscription",
    "resume_after_suppression",
    "unsubscribe",
]

# States a new request may restart from: the resident asked again, so they must confirm.
_RESTARTABLE = {"pending", "unsubscribed"}


class MailToSend(enum.Enum):
    CONFIRM = "confirm"  # a link to confirm (pending)
    ALREADY_SUBSCRIBED = "already_subscribed"  # a note with the preferences link (active)
    NOTHING = "nothing"  # suppressed: the mailbox bounced, and nothing is sent to it
    NEW_LINK = "new_link"  # "send me a new link": a fresh preferences link


@dataclass(frozen=True)
class SubscribeResult:
    subscriber_id: int
    mail: MailToSend
    created: bool
    request_id: int = 0  # the request a confirmation mail confirms (0: none)


def _record_request(session: Session, subscriber: Subscriber, prefs: Preferences) -> int:
    """One row per request, so each confirmation applies exactly what it was sent for.
    Requests past a confirmation link's life are of no use: they go."""
    now = utcnow()
    session.execute(
        delete(SubscriptionRequest).where(
            SubscriptionRequest.subscriber_id == subscriber.id,
            SubscriptionRequest.created_at < now - CONFIRM_MAX_AGE,
        )
    )
    request = SubscriptionRequest(
        subscriber_id=subscriber.id,
        mode=prefs.mode,
        categories=list(prefs.categories),
        departments=list(prefs.departments),
        created_at=now,
    )
    session.add(request)
    session.flush()
    return request.id


def _requested(request: SubscriptionRequest) -> Preferences:
    return Preferences(
        mode=clean_mode(request.mode),
        categories=tuple(request.categories),
        departments=tuple(request.departments),
    )


def live_subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    """The row a token points at, unless it was erased."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status == "erased" or subscriber.email is None:
        return None
    return subscriber


def request_subscription(
    session: Session, address: str, prefs: Preferences, language: str = DEFAULT_LANGUAGE
) -> SubscribeResult:
    """A resident asked to subscribe ``address`` (already normalised).

    An active subscriber's preferences are never changed here: anyone may type anyone's
    address, so only the holder of a preferences link may change them. Nor are a pending
    or departed subscriber's: the request is recorded on its own, and its confirmation
    applies it. The language (``ko``/``en``, checked by the caller) is taken for anyone
    not receiving newsletters, since their confirmation mail must already be in it.
    """
    subscriber = session.scalars(select(Subscriber).where(Subscriber.email == address)).first()
    if subscriber is not None and subscriber.status == "active":
        return SubscribeResult(subscriber.id, MailToSend.ALREADY_SUBSCRIBED, created=False)
    if subscriber is not None and subscriber.status == "suppressed":
        return SubscribeResult(subscriber.id, MailToSend.NOTHING, created=False)
    bounced = mailbox_suppressed(session, address)
    created = subscriber is None
    now = utcnow()
    if subscriber is None:
        subscriber = Subscriber(email=address, created_at=now, consent="double_opt_in")
        session.add(subscriber)
        subscriber.status = "pending"
        save_topics(session, subscriber, prefs)  # what the list shows until confirmed
    elif subscriber.status in _RESTARTABLE:
        subscriber.consent = "double_opt_in"
        subscriber.status = "pending"
    subscriber.language = language
    subscriber.updated_at = now
    request_id = _record_request(session, subscriber, prefs)
    if bounced:  # another spelling of a mailbox that bounced: recorded, never mailed
        return SubscribeResult(subscriber.id, MailToSend.NOTHING, created, request_id)
    return SubscribeResult(subscriber.id, MailToSend.CONFIRM, created, request_id)


def mailbox_suppressed(session: Session, address: str) -> bool:
    """Whether a suppressed subscriber's address reaches the same mailbox as ``address``
    (``name+news@`` after ``name@`` bounced). Suppressed rows are few, and only those at
    the same domain are read."""
    mailbox = canonical_mailbox(address)
    for domain in domain_spellings(address):
        rows = session.scalars(
            select(Subscriber.email).where(
                Subscriber.status == "suppressed", Subscriber.email.like(f"%@{domain}")
            )
        )
        if any(email and canonical_mailbox(email) == mailbox for email in rows):
            return True
    return False


class ConfirmResult(enum.Enum):
    CONFIRMED = "confirmed"
    ALREADY_ACTIVE = "already_active"
    NOT_PENDING = "not_pending"  # unsubscribed since: a new request is needed
    GONE = "gone"  # erased, or never existed


def confirm(session: Session, subscriber_id: int, request_id: int = 0) -> ConfirmResult:
    """Activate with what request ``request_id`` asked for (0: the subscriber as the row
    holds them, for an import's confirmation). Once active, a later request's link
    changes nothing: preferences change only through a preferences link.

    A confirmation plans the welcome mail in the same transaction. The row is locked
    first, so that two presses at once confirm (and welcome) once: the second waits, then
    finds the subscriber active."""
    session.get(Subscriber, subscriber_id, with_for_update=True, populate_existing=True)
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber is None:
        return ConfirmResult.GONE
    if subscriber.status == "active":
        return ConfirmResult.ALREADY_ACTIVE
    if subscriber.status != "pending":
        return ConfirmResult.NOT_PENDING
    if request_id:
        request = session.get(SubscriptionRequest, request_id)
        if request is None or request.subscriber_id != subscriber_id:
            return ConfirmResult.NOT_PENDING  # left and asked again since: a newer link
        save_topics(session, subscriber, _requested(request))
    session.execute(
        delete(SubscriptionRequest).where(SubscriptionRequest.subscriber_id == subscriber_id)
    )
    now = utcnow()
    subscriber.status = "active"
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    subscriber.suppressed_reason = subscriber.suppressed_kind = None
    subscriber.suppressed_at = None
    subscriber.updated_at = now
    plan_welcome(session, subscriber_id, now)
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
        subscriber.links_version += 1  # every link mailed so far stops working
    return True


def link_is_current(session: Session, subscriber_id: int, version: int) -> bool | None:
    """Whether a preferences or unsubscribe link of ``version`` still works; None when
    the subscriber is erased or unknown."""
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber is None:
        return None
    return subscriber.links_version == version


def new_links(session: Session, address: str) -> tuple[int, int] | None:
    """ "Send me a new link": every earlier preferences and unsubscribe link is revoked.
    (subscriber id, new version) for a subscriber who receives newsletters or left, or
    who complained (their mailbox works, and a complaint revoked their links: this is their
    way back); None for anyone else (unknown, pending, bounced), who is sent nothing."""
    subscriber = session.scalars(select(Subscriber).where(Subscriber.email == address)).first()
    if subscriber is None:
        return None
    complained = subscriber.status == "suppressed" and subscriber.suppressed_kind == "complaint"
    if subscriber.status not in ("active", "unsubscribed") and not complained:
        return None
    subscriber.links_version += 1
    subscriber.updated_at = utcnow()
    return subscriber.id, subscriber.links_version


class PreferencesResult(enum.Enum):
    SAVED = "saved"
    CONFIRM = "confirm"  # not receiving: a confirmation mail is sent, nothing else changes
    SUPPRESSED = "suppressed"  # the mailbox bounced: nothing is sent
    GONE = "gone"


def change_preferences(
    session: Session, subscriber_id: int, prefs: Preferences, language: str | None = None
) -> tuple[PreferencesResult, int]:
    """Save new preferences from a preferences link, for a subscriber who receives
    newsletters. One who left (or never confirmed) is not brought back on the spot: a
    link may have been forwarded, so their wish is recorded as a request and a
    confirmation mail goes to the mailbox. Returns the result and the request's id."""
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber is None:
        return PreferencesResult.GONE, 0
    if subscriber.status == "suppressed":
        return PreferencesResult.SUPPRESSED, 0
    now = utcnow()
    subscriber.updated_at = now
    if language is not None:  # the mails' language, checked by the caller
        subscriber.language = language
    if subscriber.status == "active":
        save_topics(session, subscriber, prefs)
        return PreferencesResult.SAVED, 0
    subscriber.status = "pending"
    subscriber.consent = "double_opt_in"
    return PreferencesResult.CONFIRM, _record_request(session, subscriber, prefs)


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
    was = subscriber.suppressed_kind or "unknown"
    subscriber.status = "unsubscribed"
    _clear_suppression(subscriber)
    subscriber.unsubscribed_at = subscriber.unsubscribed_at or now
    subscriber.updated_at = now
    write_audit(session, who, "unsuppress", f"subscriber:{subscriber_id}", f"was {was}")
    return LiftResult.LIFTED


def _clear_suppression(subscriber: Subscriber) -> None:
    subscriber.suppressed_reason = subscriber.suppressed_kind = None
    subscriber.suppressed_at = None


# Who lifts a suppression from the resident's own preferences link, in the audit log.
RESIDENT_ACTOR = "resident:preferences-link"


def resume_after_suppression(
    session: Session, subscriber_id: int, prefs: Preferences, language: str | None = None
) -> tuple[PreferencesResult, int]:
    """The resident, from their preferences link, asks to receive again after a bounce
    or a complaint. Nothing is mailed but a confirmation: they become ``pending`` with
    this request, as after subscribing (double opt-in again), and the lift is audited.
    Returns ``CONFIRM`` and the request's id; anything but a suppressed subscriber is
    left as it is (``SAVED`` means there was nothing to lift)."""
    subscriber = live_subscriber(session, subscriber_id)
    if subscriber is None:
        return PreferencesResult.GONE, 0
    if subscriber.status != "suppressed":
        return PreferencesResult.SAVED, 0
    was = subscriber.suppressed_kind or "unknown"
    _clear_suppression(subscriber)
    if language is not None:  # the mails' language, checked by the caller
        subscriber.language = language
    subscriber.status = "pending"
    subscriber.consent = "double_opt_in"
    subscriber.updated_at = utcnow()
    write_audit(session, RESIDENT_ACTOR, "unsuppress", f"subscriber:{subscriber_id}", f"was {was}")
    return PreferencesResult.CONFIRM, _record_request(session, subscriber, prefs)
