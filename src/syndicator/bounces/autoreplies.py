"""Automatic replies (RFC 3834): out-of-office and vacation notices, ticket systems'
acknowledgements. They come back to the envelope sender like bounces, say nothing about
whether mail reaches the address, and are ignored on purpose.

Bounces carry ``Auto-Submitted: auto-replied`` too (Exim, Postfix), so the markers count
only on a message that does not come from a mail system.
"""

from __future__ import annotations

import re
from email.message import Message

from syndicator.bounces import mime

__all__ = ["auto_reply_reason", "from_mail_system"]

# Subjects of the usual clients' notices, Korean ones included ("부재중" absent,
# "자동 응답" automatic reply, "휴가" holiday).
_SUBJECT = re.compile(
    r"^\s*(?:"
    r"auto(?:matic)?[ -]?(?:reply|response|respons|antwort)"
    r"|out of (?:the )?office|away(?: from| until|:)|on vacation|vacation|abwesend"
    r"|absence|r[ée]ponse automatique|autoreply|auto:"
    r"|\[?부재중|자동\s*(?:응답|회신)|휴가"
    r")",
    re.I,
)
_MAIL_SYSTEM_LOCALS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_MAIL_SYSTEM_NAMES = re.compile(r"mail delivery (?:system|subsystem)|mailer.daemon", re.I)


def from_mail_system(msg: Message) -> bool:
    """Whether a mail system, not a person's mailbox, wrote this message."""
    if msg.get("X-Failed-Recipients") is not None or msg.get_content_type() == "multipart/report":
        return True
    sender = mime.header_text(msg, "From")
    local = next(iter(mime.addresses(msg, "From")), "").rpartition("@")[0].lower()
    return local in _MAIL_SYSTEM_LOCALS or bool(_MAIL_SYSTEM_NAMES.search(sender))


def auto_reply_reason(msg: Message) -> str | None:
    """Why the message reads as an automatic reply, or None when it does not."""
    auto_submitted = mime.header_text(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"auto-submitted: {auto_submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"):
        if msg.get(name) is not None:
            return f"{name.lower()} header"
    precedence = mime.header_text(msg, "Precedence").lower()
    if precedence == "auto_reply":
        return "precedence: auto_reply"
    if mime.header_text(msg, "X-Apple-Action").upper() == "VACATION":
        return "x-apple-action: vacation"
    subject = mime.header_text(msg, "Subject")
    if _SUBJECT.search(subject):
        return f"subject: {mime.clean(subject, 80)}"
    return None
