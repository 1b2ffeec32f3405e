"""An operator's "send it again" for a release's email that failed or is in doubt."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicator.ledger.targets import requeue_manual
from syndicator.store.audit import write_audit
from syndicator.store.models import Delivery, Event, Release
from syndicator.subscriptions.erasure import SUBSCRIBER_CHANNELS

__all__ = ["RESENDABLE", "UnknownRelease", "requeue_release_email"]

# Uncertain rows may have arrived already: resending them is the operator's informed call.
RESENDABLE = ("failed", "uncertain")


class UnknownRelease(LookupError):
    pass


def requeue_release_email(session: Session, release_id: int, who: str) -> int:
    """Due again now, logged as manual attempts; the sweeper picks them up. Returns how
    many rows were requeued; audited in the caller's transaction."""
    if session.get(Release, release_id) is None:
        raise UnknownRelease(release_id)
    events = select(Event.id).where(Event.release_id == release_id)
    count = requeue_manual(
        session,
        Delivery.event_id.in_(events.scalar_subquery()),
        Delivery.channel.in_(SUBSCRIBER_CHANNELS),
        Delivery.status.in_(RESENDABLE),
    )
    write_audit(session, who, "resend", f"release:{release_id}", f"{count} email deliveries")
    return count
