"""Operator notices as ledger deliveries: what syndicator itself must tell the operators.

A notice is an event of its own (source ``ops``, about no release) with one delivery on
the ``notices`` channel to the target ``ops``: the operators, whose address
(``SYNDICATOR_OPS_EMAIL``) the channel looks up when it sends. Both rows are written in
the caller's transaction, so the notice stands or falls with the change it reports
(a partner disabled), and from there it is retried, logged and replayed like every
delivery. The row is due at once: the sweeper hands it to a worker within seconds. The
notice never goes through the fan-out, so no other channel ever plans it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from syndicator.ledger.targets import ensure_due_now
from syndicator.store.models import Event, utcnow

__all__ = ["CHANNEL", "OPERATORS", "PORTAL_LINK", "SOURCE", "post_notice"]

CHANNEL = "notices"
OPERATORS = "ops"  # the one target: whoever SYNDICATOR_OPS_EMAIL names when it is sent
SOURCE = "ops"
# A fresh portal link for a partner, mailed to its registered contact.
PORTAL_LINK = "partner.portal-link"


def post_notice(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    target: str = OPERATORS,
    webhook_id: str | None = None,
) -> int:
    """Record a notice of ``kind`` (an event type such as ``partner.disabled``) and its
    delivery, due now; returns the delivery's id. ``target``: the operators, or
    ``partner:<id>`` for a mail to that partner's registered contact, looked up when it is
    sent. ``webhook_id``: a unique key that makes a second such notice fail to insert."""
    event_id = f"ops_{uuid.uuid4().hex}"
    session.add(
        Event(
            id=event_id,
            webhook_id=webhook_id or f"ops:{event_id}",
            type=kind,
            release_id=None,
            source=SOURCE,
            outcome="notice",
            received_at=utcnow(),
            payload=payload,
        )
    )
    session.flush()  # the delivery refers to the event (PostgreSQL's foreign key)
    return ensure_due_now(session, event_id, CHANNEL, target)
