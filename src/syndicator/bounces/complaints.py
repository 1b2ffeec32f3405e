"""Spam complaints a mailbox provider forwards through its feedback loop: the Abuse
Reporting Format (RFC 5965) that Yahoo, AOL, Fastmail and most others send, and the
non-ARF form of Microsoft's JMRP (the complained-of message alone, its recipient in an
``X-HmXmrOriginalRecipient`` header).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from syndicator.bounces import mime

__all__ = ["Complaint", "read_complaint"]

# Fields kept as evidence, in this order.
EVIDENCE_FIELDS = (
    "Feedback-Type",
    "User-Agent",
    "Source-IP",
    "Arrival-Date",
    "Reported-Domain",
    "Original-Mail-From",
    "Original-Rcpt-To",
)


@dataclass(frozen=True)
class Complaint:
    """What a feedback report says; ``feedback_type`` is lowercased (``abuse``...)."""

    feedback_type: str
    recipient: str | None
    original_mail_from: str | None
    user_agent: str | None
    fields: tuple[tuple[str, str], ...]


def _bare(value: str) -> str | None:
    value = value.strip().strip("<>").strip()
    return value if "@" in value else None


def read_complaint(msg: Message, returned: Message | None) -> Complaint | None:
    """The report's complaint, or None when the message is no feedback report."""
    for part in mime.top_parts(msg):
        if part.get_content_type() != "message/feedback-report":
            continue
        blocks = mime.field_blocks(part)
        fields = blocks[0] if blocks else Message()
        recipient = _bare(mime.header_text(fields, "Original-Rcpt-To"))
        if recipient is None and returned is not None:
            recipient = next(iter(mime.addresses(returned, "To")), None)
        return Complaint(
            feedback_type=mime.header_text(fields, "Feedback-Type").lower() or "abuse",
            recipient=recipient,
            original_mail_from=_bare(mime.header_text(fields, "Original-Mail-From")),
            user_agent=mime.header_text(fields, "User-Agent") or None,
            fields=tuple(
                (name, value)
                for name in EVIDENCE_FIELDS
                if (value := mime.header_text(fields, name))
            ),
        )
    if returned is not None and returned.get("X-HmXmrOriginalRecipient") is not None:
        recipient = _bare(mime.header_text(returned, "X-HmXmrOriginalRecipient"))
        return Complaint(
            feedback_type="abuse",
            recipient=recipient,
            original_mail_from=None,
            user_agent="Microsoft JMRP",
            fields=(("X-HmXmrOriginalRecipient", recipient or ""),),
        )
    return None
