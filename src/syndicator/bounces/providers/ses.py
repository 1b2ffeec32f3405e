"""Amazon SES notifications (the ``Message`` of a verified SNS notification) as feedback.

A bounce names its type: Permanent is a hard bounce, Transient (mailbox full, too large)
and Undetermined a soft one. A complaint is a complaint, except the ones SES makes up for
an address already on the account's suppression list. One notification may cover several
recipients: each gets its own feedback, deduplicated by SES's feedback id and the address.
Delivery, send, open and other notifications are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.providers.common import (
    Malformed,
    enhanced_status,
    evidence,
    field,
    optional_text,
)
from syndicator.bounces.verp import tag_of_address
from syndicator.config import Settings

__all__ = ["SOURCE", "feedback_of"]

SOURCE = "ses"
_BOUNCE_KINDS = {
    "Permanent": "hard_bounce",
    "Transient": "soft_bounce",
    "Undetermined": "soft_bounce",
}


def feedback_of(message_text: str, settings: Settings) -> list[Feedback | Ignored]:
    """What the SNS ``Message`` field holding an SES notification says."""
    try:
        notification = json.loads(message_text)
    except ValueError:
        raise Malformed("Message", "not an SES notification (JSON)") from None
    if not isinstance(notification, Mapping):
        raise Malformed("Message", "not an SES notification (JSON object)")
    # Notifications say notificationType; configuration-set event publishing, eventType.
    kind = notification.get("notificationType", notification.get("eventType"))
    if not isinstance(kind, str):
        raise Malformed("Message.notificationType", "missing")
    if kind == "Bounce":
        return _bounces(notification, settings)
    if kind == "Complaint":
        return _complaints(notification, settings)
    return [Ignored(f"SES {kind} notification")]


def _mail(notification: Mapping[str, Any], settings: Settings) -> tuple[str | None, str | None]:
    """The answered message's Message-ID and, when its envelope sender (``mail.source``)
    is our bounce address, the VERP tag in it."""
    message_id = optional_text(notification, "mail.commonHeaders.messageId")
    source = optional_text(notification, "mail.source")
    return message_id, tag_of_address(settings, source) if source else None


def _summary(notification: Mapping[str, Any], part: str) -> dict[str, Any]:
    # The original headers can be long: keep the verdict and what identifies the mail.
    found = notification.get("mail")
    mail: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    kept = ("messageId", "source", "timestamp", "commonHeaders")
    return {part: notification[part], "mail": {k: mail[k] for k in kept if k in mail}}


def _address(recipient: Any, path: str) -> str:
    address = recipient.get("emailAddress") if isinstance(recipient, Mapping) else None
    if not isinstance(address, str) or "@" not in address:
        raise Malformed(f"{path}.emailAddress", "missing or not an address")
    return address


def _bounces(notification: Mapping[str, Any], settings: Settings) -> list[Feedback | Ignored]:
    bounce_type = field(notification, "bounce.bounceType")
    kind = _BOUNCE_KINDS.get(bounce_type)
    if kind is None:
        raise Malformed("bounce.bounceType", f"unknown type {bounce_type!r}")
    feedback_id = field(notification, "bounce.feedbackId")
    recipients = field(notification, "bounce.bouncedRecipients", list)
    answered, tag = _mail(notification, settings)
    kept = evidence(_summary(notification, "bounce"))
    found: list[Feedback | Ignored] = []
    for index, recipient in enumerate(recipients):
        address = _address(recipient, f"bounce.bouncedRecipients.{index}")
        diagnostic = optional_text(recipient, "diagnosticCode")
        found.append(
            Feedback(
                kind=kind,  # type: ignore[arg-type]
                source=SOURCE,
                recipient=address,
                verp_tag=tag,
                status=enhanced_status(optional_text(recipient, "status"), diagnostic),
                diagnostic=diagnostic or optional_text(notification, "bounce.bounceSubType"),
                answered_message_id=answered,
                evidence=kept,
                dedupe_key=f"ses:{feedback_id}:{address.lower()}",
            )
        )
    return found or [Ignored("SES bounce without recipients")]


def _complaints(notification: Mapping[str, Any], settings: Settings) -> list[Feedback | Ignored]:
    if optional_text(notification, "complaint.complaintSubType") == "OnAccountSuppressionList":
        return [Ignored("SES refused an address on the account's suppression list")]
    feedback_id = field(notification, "complaint.feedbackId")
    recipients = field(notification, "complaint.complainedRecipients", list)
    answered, tag = _mail(notification, settings)
    kept = evidence(_summary(notification, "complaint"))
    feedback_type = optional_text(notification, "complaint.complaintFeedbackType")
    found: list[Feedback | Ignored] = []
    for index, recipient in enumerate(recipients):
        address = _address(recipient, f"complaint.complainedRecipients.{index}")
        found.append(
            Feedback(
                kind="complaint",
                source=SOURCE,
                recipient=address,
                verp_tag=tag,
                status=None,
                diagnostic=feedback_type,
                answered_message_id=answered,
                evidence=kept,
                dedupe_key=f"ses:{feedback_id}:{address.lower()}",
            )
        )
    return found or [Ignored("SES complaint without recipients")]
