"""The mails a subscribe request sends: a confirmation link, or "you are already subscribed".

An address already active gets a short note with its preferences link rather than
silence: the answer to the request must not reveal whether the address was subscribed,
so the mailbox is the only place that can say it, and a resident who lost their
newsletters' links gets one back. Both mails are rate-limited like the request.

Sending happens after the answer (FastAPI background task). A temporary SMTP failure is
tried again a few times; after that it is logged and the resident can simply ask again:
nothing is lost, since the subscriber row (pending) was committed before the answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from syndicator.bounces.verp import envelope_sender
from syndicator.config import Settings
from syndicator.logs import kv
from syndicator.mail.compose import transactional_message
from syndicator.mail.transport import Failure, MailTransport, SendError, open_transport
from syndicator.store.db import Database
from syndicator.subscriptions.erasure import subscriber_ref
from syndicator.subscriptions.states import MailToSend, live_subscriber
from syndicator.subscriptions.tokens import (
    CONFIRM_MAX_AGE,
    confirm_url,
    preferences_url,
    unsubscribe_url,
)

__all__ = ["RETRY_DELAYS", "mail_context", "send_subscription_mail", "send_with_retries"]

log = logging.getLogger("syndicator.subscriptions")

# Seconds before the second and third try of a temporary failure (then the resident may
# ask again); short, because a web worker thread waits through them.
RETRY_DELAYS: Sequence[float] = (2.0, 10.0)


def mail_context(
    settings: Settings, subscriber_id: int, links_version: int, request_id: int = 0
) -> dict[str, object]:
    """The links one mail carries: its confirmation names its request, the others the
    subscriber's current links version."""
    return {
        "site_title": settings.site_title,
        "base_url": settings.base_url,
        "confirm_url": confirm_url(settings, subscriber_id, request_id),
        "preferences_url": preferences_url(settings, subscriber_id, links_version),
        "unsubscribe_url": unsubscribe_url(settings, subscriber_id, links_version),
        "valid_hours": int(CONFIRM_MAX_AGE.total_seconds() // 3600),
    }


def send_subscription_mail(
    settings: Settings,
    db: Database,
    subscriber_id: int,
    mail: MailToSend,
    transport: MailTransport | None = None,
    request_id: int = 0,
) -> str | None:
    """Render and send one mail now; the server's reply, or None when the subscriber was
    erased meanwhile. Raises the transport's SendError. Without ``transport`` one is
    opened and closed for this mail (a web request sends one); an import passes its own.
    A confirmation confirms ``request_id`` (0: the subscriber as the row holds them)."""
    with db.session() as session:
        subscriber = live_subscriber(session, subscriber_id)
        address = subscriber.email if subscriber else None
        version = subscriber.links_version if subscriber else 0
        language = subscriber.language if subscriber else "ko"
    if address is None:
        return None
    context = mail_context(settings, subscriber_id, version, request_id)
    message = transactional_message(settings, mail.value, context, address, language=language)
    own = transport is None
    transport = transport or open_transport(settings)
    try:
        # A bounce names the subscriber (no delivery: 0), see bounces/verp.py.
        sender = envelope_sender(settings, 0, subscriber_id) or settings.sender
        return str(transport.send(sender, address, message))
    finally:
        if own:
            transport.close()


def send_with_retries(
    settings: Settings,
    db: Database,
    subscriber_id: int,
    mail: MailToSend,
    sleep: Callable[[float], None] = time.sleep,
    request_id: int = 0,
) -> bool:
    """For the background task: never raises, logs one line per outcome (the
    subscriber's reference, never the address)."""
    if mail is MailToSend.NOTHING:
        return False
    target = subscriber_ref(subscriber_id)
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS), start=1):
        sleep(delay)
        try:
            reply = send_subscription_mail(settings, db, subscriber_id, mail, request_id=request_id)
        except SendError as exc:
            retry = exc.failure is Failure.TEMPORARY and attempt <= len(RETRY_DELAYS)
            log.warning(
                kv(
                    msg="subscription mail not sent",
                    mail=mail.value,
                    target=target,
                    attempt=attempt,
                    failure=exc.failure.value,
                    will_retry=retry,
                )
            )
            if retry:
                continue
            return False
        except Exception:
            log.exception(kv(msg="subscription mail failed", mail=mail.value, target=target))
            return False
        log.info(kv(msg="subscription mail sent", mail=mail.value, target=target, reply=reply))
        return reply is not None
    return False
