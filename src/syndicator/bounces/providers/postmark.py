"""Postmark's bounce and spam-complaint webhooks.

Postmark signs nothing: a webhook is authenticated by the HTTP basic-auth credentials put
in its URL when it is set up (user:password before the host), and
optionally by the address it comes from. Both are checked here.

Its bounce ``Type`` decides: HardBounce and BadEmailAddress are hard; SoftBounce,
Transient and DnsError soft; SpamComplaint is a complaint. Blocked and DMARCPolicy are the
sender's policy trouble, not the address's (an operator's matter, so nobody is dropped for
them); auto-replies, challenges and the rest say nothing about the address.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
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

__all__ = ["SOURCE", "check_credentials", "check_origin", "feedback_of"]

SOURCE = "postmark"
_KINDS = {
    "HardBounce": "hard_bounce",
    "BadEmailAddress": "hard_bounce",
    "SoftBounce": "soft_bounce",
    "Transient": "soft_bounce",
    "DnsError": "soft_bounce",
    "SpamComplaint": "complaint",
}


def check_credentials(authorization: str | None, expected: str) -> None:
    """``Authorization: Basic …`` must carry ``expected`` ("user:password")."""
    if not authorization:
        raise Unverified("authorization", "missing: Postmark's webhook URL carries credentials")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise Unverified("authorization", "must be Basic")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Unverified("authorization", "not base64") from None
    if not hmac.compare_digest(given, expected.encode("utf-8")):
        raise Unverified("authorization", "wrong credentials")


def check_origin(client: str | None, networks: Sequence[str]) -> None:
    """With networks configured, the call must come from one of them."""
    if not networks:
        return
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        raise Unverified("(client)", "unknown client address") from None
    if not any(address in ipaddress.ip_network(n, strict=False) for n in networks):
        raise Unverified("(client)", f"{address} is not in SYNDICATOR_POSTMARK_ALLOWED_NETWORKS")


def feedback_of(document: Any) -> list[Feedback | Ignored]:
    if not isinstance(document, Mapping):
        raise Malformed("(body)", "must be a Postmark webhook object")
    record_type = field(document, "RecordType")
    if record_type not in ("Bounce", "SpamComplaint"):
        return [Ignored(f"Postmark {record_type} webhook")]
    bounce_type = field(document, "Type")
    event_id = field(document, "ID", (int, str))
    kind = _KINDS.get(bounce_type)
    if kind is None:
        return [Ignored(f"Postmark {bounce_type}: says nothing about the address")]
    details = optional_text(document, "Details")
    return [
        Feedback(
            kind=kind,  # type: ignore[arg-type]
            source=SOURCE,
            recipient=_address(document),
            verp_tag=None,
            status=enhanced_status(details, optional_text(document, "Description")),
            diagnostic=details or optional_text(document, "Description"),
            answered_message_id=None,  # Postmark's MessageID is its own, kept in the evidence
            evidence=evidence({k: v for k, v in document.items() if k != "Content"}),
            dedupe_key=f"postmark:{event_id}",
        )
    ]


def _address(document: Mapping[str, Any]) -> str:
    address = field(document, "Email")
    if "@" not in address:
        raise Malformed("Email", "not an address")
    return str(address)
