"""What a delivery status notification (RFC 3464, and its UTF-8 form of RFC 6533) says
about each recipient, read with the stdlib's parser; and the status code a free-text
bounce gives, for the many that send no DSN.

flufl.bounce finds who failed; these fields say how: ``Status`` (an enhanced status code,
RFC 3463) and ``Diagnostic-Code`` (the remote server's words), which flufl.bounce does not
return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from syndicator.bounces import mime

__all__ = ["RecipientStatus", "recipient_statuses", "status_class", "status_in"]

_STATUS_FIELD = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# An enhanced status code in prose; not the start of a dotted address (4.2.2.1).
_ENHANCED = re.compile(r"(?<![\w.])#?([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# A basic SMTP reply code opening a reply ("550 ", "452-", "550:"); not part of a number.
_BASIC = re.compile(r"(?<![\w.:\-])([45])\d\d(?=[ \-:])")
# Fields kept as evidence, in this order.
EVIDENCE_FIELDS = (
    "Final-Recipient",
    "Original-Recipient",
    "Action",
    "Status",
    "Remote-MTA",
    "Diagnostic-Code",
)


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a DSN."""

    recipient: str
    action: str
    status: str | None
    diagnostic: str | None
    fields: tuple[tuple[str, str], ...]


def _address(value: str) -> str:
    """``rfc822; <user@example.org>`` -> ``user@example.org``."""
    _, _, address = value.rpartition(";")
    return address.strip().strip("<>").strip()


def _after_type(value: str) -> str:
    """``smtp; 550 5.1.1 ...`` -> ``550 5.1.1 ...`` (the type is MTA bookkeeping)."""
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and " " not in kind.strip() else value.strip()


def _block_status(block: Message) -> RecipientStatus | None:
    original = mime.header_text(block, "Original-Recipient")
    final = mime.header_text(block, "Final-Recipient")
    # The Original-Recipient is the address as we wrote it, so it is what we know the
    # subscriber by; the Final-Recipient may be an alias it expanded to.
    recipient = next(
        (a for a in (_address(original), _address(final)) if "@" in a),
        None,
    )
    if recipient is None:
        return None
    action = mime.header_text(block, "Action").lower().split(" ", 1)[0]
    found = _STATUS_FIELD.match(mime.header_text(block, "Status"))
    diagnostic = _after_type(mime.header_text(block, "Diagnostic-Code")) or None
    status = ".".join(found.groups()) if found else status_in(diagnostic or "")
    fields = tuple(
        (name, value) for name in EVIDENCE_FIELDS if (value := mime.header_text(block, name))
    )
    return RecipientStatus(recipient, action, status, diagnostic, fields)


def recipient_statuses(msg: Message) -> list[RecipientStatus]:
    """Every per-recipient block of every delivery-status part of the report."""
    found = []
    for part in mime.top_parts(msg):
        if part.get_content_type() not in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            continue
        for block in mime.field_blocks(part):
            status = _block_status(block)
            if status is not None:
                found.append(status)
    return found


def status_in(text: str) -> str | None:
    """The status code that prose gives: its first enhanced code, else the class of its
    first SMTP reply code (``550`` -> ``5.0.0``); None when it gives neither."""
    enhanced = _ENHANCED.search(text)
    if enhanced:
        return ".".join(enhanced.groups())
    basic = _BASIC.search(text)
    return f"{basic.group(1)}.0.0" if basic else None


def status_class(status: str | None) -> str | None:
    """``5.1.1`` -> ``5``."""
    return status[0] if status and status[0] in "245" else None
