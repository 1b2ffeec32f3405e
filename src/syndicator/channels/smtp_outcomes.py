"""What an SMTP send's reply means for a delivery: one vocabulary for every mail channel.

:mod:`syndicator.mail.transport` classifies each refusal once (:class:`Failure`); this
turns the reply into the ledger's outcome, so newsletters and operator notices read the
same in the console and the metrics:

=======================  ============  =========  ==========================================
error class              final status  retryable  when
=======================  ============  =========  ==========================================
(none)                   succeeded     -          2xx
``E_SMTP_TEMPORARY``     -             yes        4xx, or no connection
``E_SMTP_MAILBOX_GONE``  suppressed    no         5.1.x: the address does not exist
``E_SMTP_POLICY``        failed        no         5.7.x: refused by policy
``E_SMTP_PERMANENT``     failed        no         any other 5xx
``E_SMTP_UNCERTAIN``     uncertain     no         dropped after the message was handed over
=======================  ============  =========  ==========================================

A 421 (or no connection at all) is a server's limit rather than the message's fault: the
email channel defers those rows before they reach this table.
"""

from __future__ import annotations

from syndicator.channels.base import DeliveryOutcome
from syndicator.mail.transport import Failure, SendError, SmtpReply

__all__ = ["ERROR_CLASSES", "accepted", "refused"]

ERROR_CLASSES = {
    Failure.TEMPORARY: "E_SMTP_TEMPORARY",
    Failure.MAILBOX_GONE: "E_SMTP_MAILBOX_GONE",
    Failure.POLICY: "E_SMTP_POLICY",
    Failure.PERMANENT: "E_SMTP_PERMANENT",
    Failure.UNCERTAIN: "E_SMTP_UNCERTAIN",
}
_FINAL = {Failure.MAILBOX_GONE: "suppressed", Failure.UNCERTAIN: "uncertain"}


def accepted(
    delivery_id: int, reply: SmtpReply, endpoint: str, message_id: str, duration_ms: float
) -> DeliveryOutcome:
    return DeliveryOutcome(
        delivery_id,
        ok=True,
        duration_ms=duration_ms,
        status_code=reply.code,
        response=reply.text,
        endpoint=endpoint,
        message_id=message_id,
    )


def refused(
    delivery_id: int, error: SendError, endpoint: str, message_id: str, duration_ms: float
) -> DeliveryOutcome:
    reply = error.reply
    return DeliveryOutcome(
        delivery_id,
        ok=False,
        retryable=error.failure is Failure.TEMPORARY,
        error_class=ERROR_CLASSES[error.failure],
        detail=str(reply) or error.failure.value,
        duration_ms=duration_ms,
        status_code=reply.code,
        response=reply.text,
        endpoint=endpoint,
        message_id=message_id,
        final_status=_FINAL.get(error.failure),
    )
