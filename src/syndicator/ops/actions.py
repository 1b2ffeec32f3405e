"""What an operator can do from the console, each audited in its own transaction.

Resends go through the ledger, never the broker: the row is made due now with
``trigger = 'manual'`` in a committed transaction and the sweeper enqueues it within
seconds (partners.delivery_log explains why). Pausing a channel is a row in
``channel_pauses``: the ledger's claims skip the channel's rows, which stay as they are
until it resumes, so nothing is lost and the sweeper has nothing to spin on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from syndicator.channels.registry import CHANNEL_TYPES
from syndicator.ledger.targets import requeue_manual
from syndicator.partners import delivery_log
from syndicator.partners.registry import CHANNEL as PARTNER_CHANNEL
from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import ChannelPause, Delivery, utcnow
from syndicator.subscriptions.resend import requeue_release_email
from syndicator.subscriptions.states import LiftResult, lift_suppression

__all__ = [
    "CHANNEL_NAMES",
    "ActionRefused",
    "pause_channel",
    "paused_channels",
    "recover_partner",
    "replay_delivery",
    "resend_release_email",
    "resume_channel",
    "unsuppress_subscriber",
]

CHANNEL_NAMES = tuple(kind.name for kind in CHANNEL_TYPES)


class ActionRefused(ValueError):
    """The action cannot be taken as asked; the message says why (shown to the operator)."""


def paused_channels(db: Database) -> dict[str, ChannelPause]:
    with db.read_session() as session:
        rows = list(session.scalars(select(ChannelPause)))
        session.expunge_all()
    return {row.channel: row for row in rows}


def _known(channel: str) -> None:
    if channel not in CHANNEL_NAMES:
        raise ActionRefused(f"unknown channel {channel!r}: one of {', '.join(CHANNEL_NAMES)}")


def pause_channel(db: Database, who: str, channel: str, reason: str | None = None) -> bool:
    """False when it was already paused (nothing changes, nothing is logged). ``reason``
    says why when syndicator pauses it by itself; it is shown wherever the pause is."""
    _known(channel)
    with db.session() as session:
        if session.get(ChannelPause, channel) is not None:
            return False
        session.add(
            ChannelPause(channel=channel, paused_at=utcnow(), paused_by=who[:200], reason=reason)
        )
        write_audit(session, who, "pause", f"channel:{channel}", reason or "")
    return True


def resume_channel(db: Database, who: str, channel: str) -> bool:
    _known(channel)
    with db.session() as session:
        removed = session.execute(delete(ChannelPause).where(ChannelPause.channel == channel))
        if not getattr(removed, "rowcount", 0):
            return False
        write_audit(session, who, "resume", f"channel:{channel}")
    return True


def replay_delivery(db: Database, who: str, delivery_id: int) -> str:
    """Resend one delivery now, whatever its status; returns its channel."""
    with db.session() as session:
        channel = session.scalar(select(Delivery.channel).where(Delivery.id == delivery_id))
    if channel is None:
        raise ActionRefused(f"no delivery {delivery_id}")
    if channel == PARTNER_CHANNEL:
        # The partner log's own replay checks that the partner can receive.
        try:
            delivery_log.replay(db, delivery_id, who)
        except delivery_log.NotResendable as exc:
            raise ActionRefused(str(exc)) from None
    else:
        _make_due_manual(db, delivery_id, who, channel)
    return channel


def _make_due_manual(db: Database, delivery_id: int, who: str, channel: str) -> None:
    with db.session() as session:
        if not requeue_manual(
            session, Delivery.id == delivery_id, Delivery.status != "in_progress"
        ):
            raise ActionRefused(
                f"delivery {delivery_id} is being sent right now; replay it once it is logged"
            )
        write_audit(session, who, "replay", f"delivery:{delivery_id}", f"channel {channel}")


def recover_partner(db: Database, who: str, partner_id: int, since: datetime) -> int:
    try:
        return delivery_log.recover(db, partner_id, since, who)
    except delivery_log.NotResendable as exc:
        raise ActionRefused(str(exc)) from None
    except LookupError:
        raise ActionRefused(f"no partner {partner_id}") from None


def resend_release_email(db: Database, who: str, release_id: int) -> int:
    try:
        with db.session() as session:
            return requeue_release_email(session, release_id, who)
    except LookupError:
        raise ActionRefused(f"no release {release_id}") from None


def unsuppress_subscriber(db: Database, who: str, subscriber_id: int) -> None:
    """Lift a suppression, whatever caused it (audited with what it was). The subscriber
    must ask and confirm again before anything is mailed."""
    with db.session() as session:
        result = lift_suppression(session, subscriber_id, who)
    if result is LiftResult.GONE:
        raise ActionRefused(f"no subscriber {subscriber_id}")
    if result is LiftResult.NOT_SUPPRESSED:
        raise ActionRefused(f"subscriber {subscriber_id} is not suppressed")
