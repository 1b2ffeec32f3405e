"""``partner.test``: a signed event a partner asks for to check its endpoint.

It is an event of its own (about no release, so nothing holds it in order and no
fan-out plans it) with one webhooks delivery to the partner, due now: the sweeper hands
it to a worker within seconds, and it is signed, sent, retried and logged like any
delivery. Only its body differs (:func:`syndicator.partners.envelope.build_test_envelope`).
"""

from __future__ import annotations

import uuid

from syndicator.ledger.targets import ensure_due_now
from syndicator.partners.delivery_log import NotResendable
from syndicator.partners.envelope import TEST_EVENT_TYPE
from syndicator.partners.registry import CHANNEL, partner_target
from syndicator.store.audit import write_audit
from syndicator.store.db import Database
from syndicator.store.models import Event, Partner, utcnow

__all__ = ["SOURCE", "send_test_event"]

SOURCE = "portal"


def send_test_event(db: Database, partner_id: int, who: str) -> int:
    """Queue a test event to an active partner; returns its delivery's id."""
    with db.session() as session:
        partner = session.get(Partner, partner_id)
        if partner is None or partner.state == "deleted":
            raise LookupError(f"no partner {partner_id}")
        if partner.state != "active":
            raise NotResendable(f"partner {partner_id} is disabled: enable it first")
        event_id = f"evt_test_{uuid.uuid4().hex}"
        session.add(
            Event(
                id=event_id,
                webhook_id=f"test:{event_id}",
                type=TEST_EVENT_TYPE,
                release_id=None,
                source=SOURCE,
                outcome="test",
                received_at=utcnow(),
                payload={"partner_id": partner.id, "name": partner.name},
            )
        )
        session.flush()  # the delivery refers to the event (PostgreSQL's foreign key)
        delivery_id = ensure_due_now(session, event_id, CHANNEL, partner_target(partner_id))
        write_audit(
            session, who, "partner-test", partner_target(partner_id), f"delivery {delivery_id}"
        )
        return delivery_id
