"""The welcome mail a confirmation earns, planned as a ledger delivery.

Confirming writes, in the confirming transaction, an event of its own
(``subscriber.welcome``, id ``welcome-<subscriber>-<when confirmed, in µs>``) and its one email row
``(welcome event, email, subscriber:<id>)``, due at once. The sweeper hands the row to the
email channel within seconds, like any retry, so the welcome is retried, logged and
resent as a newsletter is, and nothing reaches Redis inside the web request. The row's
unique key makes the welcome once per confirmation: a second confirmation of the same
link finds the subscriber active and plans nothing, and a planning repeated after a crash
finds the same row.

The event holds no address, nor the subscriber's topics: the channel reads what they
receive when it writes the mail, so a welcome sent late says what is true then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from syndicator.ledger.targets import ensure_due_now
from syndicator.mail.audience import subscriber_target
from syndicator.store.models import Event, utcnow

__all__ = ["WELCOME_TYPE", "is_welcome", "plan_welcome", "welcome_event_id"]

WELCOME_TYPE = "subscriber.welcome"
_PREFIX = "welcome-"


def welcome_event_id(subscriber_id: int, confirmed_at: datetime) -> str:
    # The time, not the request: request ids are reused once deleted (SQLite).
    return f"{_PREFIX}{subscriber_id}-{round(confirmed_at.timestamp() * 1_000_000)}"


def is_welcome(event_id: str) -> bool:
    return event_id.startswith(_PREFIX)


def plan_welcome(session: Session, subscriber_id: int, confirmed_at: datetime) -> str:
    """Create the welcome's event and row (once) and make the row due now; returns the
    event id."""
    event_id = welcome_event_id(subscriber_id, confirmed_at)
    now = utcnow()
    if session.get(Event, event_id) is None:
        session.add(
            Event(
                id=event_id,
                webhook_id=f"welcome:{event_id}",
                type=WELCOME_TYPE,
                release_id=None,
                source="subscription",
                outcome="welcome",
                received_at=now,
                payload={"subscriber": subscriber_id},
            )
        )
        session.flush()
    # Due now rather than fresh: a fresh row waits for a task the web never sends.
    ensure_due_now(session, event_id, "email", subscriber_target(subscriber_id))
    return event_id
