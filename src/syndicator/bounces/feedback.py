"""What one bounce or complaint says, apart from how it arrived (a mail piped in, an IMAP
mailbox, a provider's webhook). Every way in produces these, and
:func:`syndicator.bounces.recording.record_feedback` is the one place that acts on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FEEDBACK_KINDS", "Feedback", "FeedbackKind", "Ignored"]

FeedbackKind = Literal["hard_bounce", "soft_bounce", "complaint"]
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = ("hard_bounce", "soft_bounce", "complaint")


@dataclass(frozen=True)
class Feedback:
    """One recipient's bounce or complaint.

    ``source`` says how it arrived (pipe | imap | ses | postmark | mailgun | sendgrid).
    ``verp_tag`` is the tag of the envelope sender the report was addressed to
    (``bounces+<tag>@``), when known: it names the delivery and the subscriber, and is
    what a report is trusted by. ``recipient`` is the address the report names, and
    ``answered_message_id`` the Message-ID of the message it answers (with its angle
    brackets or without). ``status`` is the enhanced status code (5.1.1), ``diagnostic``
    the remote server's words, ``evidence`` an excerpt of the report kept for the
    console. ``dedupe_key`` is the report's own identity (a provider's event id, the
    report's Message-ID plus the recipient): a report seen twice is kept once.
    """

    kind: FeedbackKind
    source: str
    recipient: str | None = None
    verp_tag: str | None = None
    status: str | None = None
    diagnostic: str | None = None
    answered_message_id: str | None = None
    evidence: str | None = None
    dedupe_key: str | None = None


@dataclass(frozen=True)
class Ignored:
    """A message that is no bounce or complaint (an out-of-office reply, a delivery
    notice), recognised and left alone on purpose."""

    reason: str
