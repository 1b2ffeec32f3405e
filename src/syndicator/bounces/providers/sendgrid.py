"""SendGrid's signed event webhook: an ECDSA P-256 signature over timestamp + raw body, and
a batch of events as feedback.

The verification key is the one SendGrid shows for the webhook (base64 of the DER public
key; a PEM is taken too). A ``bounce`` event of type ``bounce`` is hard; of type ``blocked``
it is the receiver refusing the sender (policy, reputation), so nobody is dropped for it.
``spamreport`` is a complaint. ``deferred`` means SendGrid is still retrying, and
``dropped`` is SendGrid declining to send to an address on its own lists.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.providers.common import (
    Malformed,
    Unverified,
    enhanced_status,
    evidence,
    field,
    optional_text,
)

__all__ = ["SIGNATURE_HEADER", "SOURCE", "TIMESTAMP_HEADER", "feedback_of", "public_key", "verify"]

SOURCE = "sendgrid"
SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"


def public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The configured key; ValueError saying what is wrong with it."""
    try:
        if "BEGIN PUBLIC KEY" in text:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve (ECDSA) public key")
    return key


def verify(
    key: ec.EllipticCurvePublicKey, signature: str | None, timestamp: str | None, body: bytes
) -> None:
    if not signature:
        raise Unverified(SIGNATURE_HEADER, "missing")
    if not timestamp:
        raise Unverified(TIMESTAMP_HEADER, "missing")
    try:
        decoded = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise Unverified(SIGNATURE_HEADER, "not base64") from None
    try:
        key.verify(decoded, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Unverified(SIGNATURE_HEADER, "does not match the body and timestamp") from None


def feedback_of(document: Any) -> list[Feedback | Ignored]:
    if not isinstance(document, list):
        raise Malformed("(body)", "must be a JSON array of events")
    return [_one(event, index) for index, event in enumerate(document)]


def _one(event: Any, index: int) -> Feedback | Ignored:
    if not isinstance(event, Mapping):
        raise Malformed(f"{index}", "must be an event object")
    try:
        name = field(event, "event", str)
        if name == "spamreport":
            kind = "complaint"
        elif name == "bounce":
            bounce_type = optional_text(event, "type") or "bounce"
            if bounce_type == "blocked":
                return Ignored("SendGrid blocked: the receiver refused the sender, not the address")
            kind = "hard_bounce"
        else:
            return Ignored(f"SendGrid {name} event")
        recipient = field(event, "email", str)
        event_id = field(event, "sg_event_id", str)
    except Malformed as exc:
        raise Malformed(f"{index}.{exc.field}", exc.reason) from None
    if "@" not in recipient:
        raise Malformed(f"{index}.email", "not an address")
    reason = optional_text(event, "reason")
    return Feedback(
        kind=kind,  # type: ignore[arg-type]
        source=SOURCE,
        recipient=recipient,
        verp_tag=None,
        status=enhanced_status(optional_text(event, "status"), reason),
        diagnostic=reason,
        answered_message_id=optional_text(event, "smtp-id"),
        evidence=evidence(event),
        dedupe_key=f"sendgrid:{event_id}",
    )
