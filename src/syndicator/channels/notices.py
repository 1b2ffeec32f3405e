"""Notices channel: what syndicator tells its operators (a partner disabled), by email.

The rows come from :func:`syndicator.intake.notices.post_notice`, written in the
transaction of the change they report; ``plan`` is empty, so no release ever reaches this
channel. The one target, ``ops``, is looked up when the row is sent
(``SYNDICATOR_OPS_EMAIL``), and the message is worded from the notice's event
(:mod:`syndicator.mail.notices`). SMTP replies read as the newsletters'
(:mod:`syndicator.channels.smtp_outcomes`), and a 4xx or an unreachable server is retried
on the mail schedule, so a notice lost to a hiccup goes out on a later attempt.

The channel shares the email queue and its workers, and opens an SMTP connection for each
notice it sends.
"""

from __future__ import annotations

import time
from typing import ClassVar

from sqlalchemy.orm import Session

from syndicator.channels import smtp_outcomes
from syndicator.channels.base import BatchContext, DeliveryOutcome, SyncChannel
from syndicator.config import Settings
from syndicator.intake.notices import CHANNEL, PORTAL_LINK
from syndicator.ledger.claims import Claimed
from syndicator.mail.notices import UnknownNotice, render_notice
from syndicator.mail.transport import SendError, open_transport
from syndicator.store.models import Event, Partner
from syndicator.store.sealed import Sealed, keyring

__all__ = ["NoticesChannel"]


class NoticesChannel(SyncChannel):
    name: ClassVar[str] = CHANNEL
    queue: ClassVar[str] = "email"
    batch_size: ClassVar[int] = 20

    def retry_delays(self, target: str) -> tuple[float, ...]:
        return self.ctx.settings.mail_retry_schedule

    def deliver(self, job: Claimed, batch: BatchContext) -> DeliveryOutcome:
        settings = self.ctx.settings
        with self.ctx.db.read_session() as session:
            event = session.get(Event, job.event_id)
            notice = (event.type, event.payload, event.received_at) if event else None
            recipient, why = _recipient(session, settings, job.target)
        if recipient is None:
            return DeliveryOutcome.permanent(job.delivery_id, *why)
        if notice is None:
            return DeliveryOutcome.permanent(job.delivery_id, "E_NO_EVENT")
        kind, payload, at = notice
        if kind == PORTAL_LINK:
            # The ledger holds the link sealed: a copy of the database opens no portal.
            ring = keyring(settings.encryption_keys)
            payload = {**payload, "url": ring.open(Sealed(payload["sealed_url"]))}
        message_id = f"<{job.event_id}@{settings.site_domain}>"
        try:
            message = render_notice(
                settings.sender,
                recipient,
                kind,
                payload,
                message_id=message_id,
                at=at,
            )
        except UnknownNotice as exc:
            return DeliveryOutcome.permanent(job.delivery_id, "E_UNKNOWN_NOTICE", str(exc))
        # Notices are rare: a connection per notice, never one left idle on the server.
        transport = open_transport(settings)
        started = time.perf_counter()
        try:
            reply = transport.send(settings.sender, recipient, message)
            return smtp_outcomes.accepted(
                job.delivery_id, reply, transport.endpoint, message_id, _ms_since(started)
            )
        except SendError as error:
            return smtp_outcomes.refused(
                job.delivery_id, error, transport.endpoint, message_id, _ms_since(started)
            )
        finally:
            transport.close()


def _recipient(
    session: Session, settings: Settings, target: str
) -> tuple[str | None, tuple[str, str]]:
    """The address a target names now: the operators', or a partner's registered contact."""
    kind, _, ref = target.partition(":")
    if kind == "partner" and ref.isdigit():
        partner = session.get(Partner, int(ref))
        if partner is None or partner.state == "deleted" or not partner.contact_email:
            return None, ("E_NO_CONTACT", "the partner has no contact address (or is deleted)")
        return partner.contact_email, ("", "")
    if not settings.ops_email:
        return None, ("E_NO_OPS_EMAIL", "SYNDICATOR_OPS_EMAIL unset")
    return settings.ops_email, ("", "")


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
