"""Mailgun's webhooks: the signature block it puts in the body, and its events as feedback.

Mailgun signs ``timestamp + token`` with the account's webhook signing key (HMAC-SHA256,
hex). A timestamp further than :data:`TOLERANCE_SECONDS` from now is refused, and so is a
token seen before (:mod:`syndicator.bounces.providers.replay` keeps them for as long).

Only a permanent ``failed`` event is a bounce; a temporary one means Mailgun is still
retrying, and its last word, if it fails, comes as a permanent one (reason ``old`` when it
gave up after retrying: soft). ``complained`` is a complaint.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.providers.common import (
    Malformed,
    Unverified,
    enhanced_status,
    evidence,
    field,
    optional_text,
)
from syndicator.bounces.verp import tag_of_address
from syndicator.config import Settings

__all__ = ["SOURCE", "TOLERANCE_SECONDS", "Signed", "feedback_of", "verify"]

SOURCE = "mailgun"
TOLERANCE_SECONDS = 300


class Signed:
    """The verified parts of a call: its token (for the replay check) and its event."""

    def __init__(self, token: str, event: Mapping[str, Any]) -> None:
        self.token, self.event = token, event


def verify(document: Any, keys: Sequence[str], now: float) -> Signed:
    if not isinstance(document, Mapping):
        raise Malformed("(body)", "must be a Mailgun webhook object")
    block = document.get("signature")
    if not isinstance(block, Mapping):
        raise Unverified("signature", "missing")
    parts = {}
    for name in ("timestamp", "token", "signature"):
        value = block.get(name)
        if not isinstance(value, str) or not value:
            raise Unverified(f"signature.{name}", "missing")
        parts[name] = value
    message = (parts["timestamp"] + parts["token"]).encode("utf-8")
    given = parts["signature"].lower().encode("ascii", "replace")
    if not any(
        hmac.compare_digest(
            hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest().encode(), given
        )
        for key in keys
    ):
        raise Unverified("signature.signature", "does not match the webhook signing key")
    try:
        timestamp = float(parts["timestamp"])
    except ValueError:
        raise Unverified("signature.timestamp", "not a number") from None
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise Unverified("signature.timestamp", f"more than {TOLERANCE_SECONDS} s from now")
    event = document.get("event-data")
    if not isinstance(event, Mapping):
        raise Malformed("event-data", "missing")
    return Signed(parts["token"], event)


def feedback_of(
    event: Mapping[str, Any], token: str, settings: Settings
) -> list[Feedback | Ignored]:
    name = field(event, "event", str)
    if name == "complained":
        kind = "complaint"
    elif name == "failed":
        severity = field(event, "severity", str)
        if severity != "permanent":
            return [Ignored(f"Mailgun {severity} failure: Mailgun is still retrying")]
        kind = "soft_bounce" if event.get("reason") == "old" else "hard_bounce"
    else:
        return [Ignored(f"Mailgun {name} event")]
    recipient = field(event, "recipient", str)
    if "@" not in recipient:
        raise Malformed("event-data.recipient", "not an address")
    message = optional_text(event, "delivery-status.message")
    description = optional_text(event, "delivery-status.description")
    code = optional_text(event, "delivery-status.code")
    sender = optional_text(event, "envelope.sender")
    # The event's own id; a token is unique too, for payloads that carry no id.
    event_id = optional_text(event, "id") or token
    return [
        Feedback(
            kind=kind,  # type: ignore[arg-type]
            source=SOURCE,
            recipient=recipient,
            verp_tag=tag_of_address(settings, sender) if sender else None,
            status=enhanced_status(
                optional_text(event, "delivery-status.enhanced-code"), message, description
            )
            or code,
            diagnostic=message or description,
            answered_message_id=_message_id(optional_text(event, "message.headers.message-id")),
            evidence=evidence(event),
            dedupe_key=f"mailgun:{event_id}",
        )
    ]


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    return value if value.startswith("<") else f"<{value}>"
