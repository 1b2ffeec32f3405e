"""One returned mail in, what it says out: :func:`parse_report` reads a bounce, a spam
complaint or an automatic reply as bytes and returns the :class:`Feedback` it carries, one
per recipient, or :class:`Ignored` with the reason it carries none. Pure: no I/O, no
settings, and no exception for any input.

How each kind of report is read:

- Delivery status notifications (RFC 3464) and the many free-text bounces real mail
  servers send: flufl.bounce (Mailman's detectors) finds the failed recipients; the DSN's
  own per-recipient ``Status``/``Diagnostic-Code`` fields, or the status code the text
  gives near the recipient, say how. Status class 5 is a hard bounce, class 4 a soft one
  (a mailbox full, a message that expired in the queue), and so is a failure that gives
  no code at all: three soft bounces suppress, one hard bounce does.
- A *delayed* DSN (``Action: delayed``, or a "still trying" warning) is ignored: the
  sending server is still retrying, will say ``failed`` if it gives up, and counting the
  warning as well would count one problem twice.
- Complaints (RFC 5965 feedback reports of type ``abuse``, Microsoft's JMRP) are
  complaints; other feedback types (``not-spam``, ``auth-failure``...) are ignored.
- Automatic replies (RFC 3834, out-of-office, vacation) are ignored.

``verp_tag`` is the tag of the address the report was delivered to (``bounces+<tag>@``)
as found, unverified: :mod:`syndicator.bounces.verp` checks it.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from flufl.bounce import all_failures

from syndicator.bounces import autoreplies, complaints, dsn, mime
from syndicator.bounces.feedback import Feedback, Ignored

__all__ = ["parse_report"]

log = logging.getLogger(__name__)

_DIAGNOSTIC_CHARS = 500
_EVIDENCE_LINE_CHARS = 300
_EVIDENCE_CHARS = 2000
_DEDUPE_CHARS = 300  # mail_feedback.dedupe_key
_MESSAGE_ID_CHARS = 300  # mail_feedback.answered_message_id
# How far past a recipient's address a free-text bounce explains that recipient.
_WINDOW_CHARS = 700
_RETURNED_COPY = re.compile(r"\n[ \t]*-{3,}")


@dataclass(frozen=True)
class _Failure:
    recipient: str
    status: str | None
    diagnostic: str | None
    evidence: tuple[tuple[str, str], ...]


def parse_report(
    raw: bytes, *, source: str = "pipe", envelope_to: str | None = None
) -> list[Feedback] | Ignored:
    """The feedback a returned mail carries, or why it carries none.

    ``source`` names the way in (``pipe``, ``imap``); ``envelope_to`` is the address the
    mail was delivered to when the caller knows it (a pipe's ``$ORIGINAL_RECIPIENT``),
    trusted over the headers for the VERP tag.
    """
    msg = email.message_from_bytes(raw)
    if not msg.keys():
        return Ignored("not a mail: no headers")
    returned = mime.returned_headers(msg)
    report = _Report(msg, raw, source, returned, envelope_to)

    complaint = complaints.read_complaint(msg, returned)
    if complaint is not None:
        return report.complaint(complaint)

    statuses = dsn.recipient_statuses(msg)
    if not statuses and not autoreplies.from_mail_system(msg):
        reason = autoreplies.auto_reply_reason(msg)
        if reason is not None:
            return Ignored(f"automatic reply ({reason})")

    temporary, permanent = _detected(msg)
    failures = _failures(msg, statuses, permanent)
    if failures:
        return [report.bounce(failure) for failure in failures]
    if temporary or any(s.action == "delayed" for s in statuses):
        return Ignored("delayed: the sending server is still trying")
    if statuses:
        actions = sorted({s.action or "none" for s in statuses})
        return Ignored(f"delivery report without a failure (action: {', '.join(actions)})")
    return Ignored("no bounce or complaint found")


def _detected(msg: Message) -> tuple[set[str], set[str]]:
    """flufl.bounce's temporary and permanent failures, as text."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a heuristic detector tripping on a damaged mail finds nobody
        log.warning("bounce detectors failed on a message", exc_info=True)
        return set(), set()
    return (
        {a.decode("ascii", "replace") for a in temporary},
        {a.decode("ascii", "replace") for a in permanent},
    )


def _failures(
    msg: Message, statuses: list[dsn.RecipientStatus], permanent: set[str]
) -> list[_Failure]:
    """One failure per failed recipient: a DSN's blocks first, in their order, then the
    recipients only flufl.bounce found, explained by the text around them."""
    found: dict[str, _Failure] = {}
    for status in statuses:
        key = status.recipient.lower()
        # "error" is OpenSMTPD's word for "failed".
        if key in found or not status.action.startswith(("fail", "error")):
            continue
        found[key] = _Failure(status.recipient, status.status, status.diagnostic, status.fields)
    rest = sorted(a for a in permanent if a.lower() not in found)
    if rest:
        text = mime.human_text(msg)
        for address in rest:
            found[address.lower()] = _from_text(address, text, permanent)
    return list(found.values())


def _from_text(address: str, text: str, others: Iterable[str]) -> _Failure:
    """A free-text bounce's account of one recipient: from its address to the next
    recipient's (or a few lines on)."""
    lower = text.lower()
    start = lower.find(address.lower())
    start = 0 if start < 0 else start + len(address)
    end = min(
        [start + _WINDOW_CHARS]
        + [
            i
            for o in others
            if o.lower() != address.lower() and (i := lower.find(o.lower(), start)) > 0
        ]
    )
    # A line of dashes starts the copy of the returned message (Exim, qmail, Gmail).
    window = _RETURNED_COPY.split(text[start:end], maxsplit=1)[0]
    status = dsn.status_in(window)
    lines = [line.strip(" \t:>") for line in window.splitlines()]
    lines = [line for line in lines if line]
    coded = [line for line in lines if dsn.status_in(line)]
    diagnostic = mime.clean(coded[0] if coded else " ".join(lines[:2]), _DIAGNOSTIC_CHARS)
    evidence = (("Failed-Recipient", address), ("Text", diagnostic))
    return _Failure(address, status, diagnostic or None, evidence)


class _Report:
    """What every feedback from one report shares: its identity, its VERP tag, the
    message it answers, and its own headers as evidence."""

    def __init__(
        self,
        msg: Message,
        raw: bytes,
        source: str,
        returned: Message | None,
        envelope_to: str | None,
    ) -> None:
        self.msg = msg
        self.source = source
        self.returned = returned
        self.report_id = mime.message_id(msg) or "sha256:" + hashlib.sha256(raw).hexdigest()
        answered = mime.message_id(returned) or mime.message_id_in_text(mime.human_text(msg))
        self.answered = answered[:_MESSAGE_ID_CHARS] if answered else None
        delivered = [envelope_to] if envelope_to else []
        for name in ("Delivered-To", "X-Original-To", "To"):
            delivered += mime.addresses(msg, name)
        self.delivered_to = delivered
        self.head = tuple(
            (name, value)
            for name in ("From", "Date", "Subject", "Message-ID")
            if (value := mime.header_text(msg, name))
        )

    def _verp_tag(self, *more: str | None) -> str | None:
        """The tag of the first ``local+tag@domain`` address the report was delivered to,
        or failing that, the returned message's envelope sender."""
        candidates = list(self.delivered_to) + [m for m in more if m]
        if self.returned is not None:
            candidates += mime.addresses(self.returned, "Return-Path")
        for address in candidates:
            local, at, _ = address.strip().strip("<>").rpartition("@")
            _, plus, tag = local.partition("+")
            if at and plus and tag:
                return mime.clean(tag, 200)
        return None

    def _dedupe_key(self, recipient: str | None) -> str:
        key = f"{self.report_id} {(recipient or '').lower()}".strip()
        if len(key) > _DEDUPE_CHARS:
            key = "sha256:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
        return key

    def _evidence(self, fields: Iterable[tuple[str, str]]) -> str:
        """The report's own headers and the fields about one recipient; never a body."""
        lines = [
            mime.clean(f"{name}: {value}", _EVIDENCE_LINE_CHARS)
            for name, value in (*self.head, *fields)
        ]
        return "\n".join(lines)[:_EVIDENCE_CHARS]

    def bounce(self, failure: _Failure) -> Feedback:
        kind: Literal["hard_bounce", "soft_bounce"] = (
            "hard_bounce" if dsn.status_class(failure.status) == "5" else "soft_bounce"
        )
        recipient = mime.clean(failure.recipient, 320)
        return Feedback(
            kind=kind,
            source=self.source,
            recipient=recipient,
            verp_tag=self._verp_tag(),
            status=failure.status,
            diagnostic=(
                mime.clean(failure.diagnostic, _DIAGNOSTIC_CHARS) if failure.diagnostic else None
            ),
            answered_message_id=self.answered,
            evidence=self._evidence(failure.evidence),
            dedupe_key=self._dedupe_key(recipient),
        )

    def complaint(self, complaint: complaints.Complaint) -> list[Feedback] | Ignored:
        if complaint.feedback_type != "abuse":
            return Ignored(f"feedback report of type {mime.clean(complaint.feedback_type, 40)}")
        agent = f" ({complaint.user_agent})" if complaint.user_agent else ""
        return [
            Feedback(
                kind="complaint",
                source=self.source,
                recipient=complaint.recipient,
                verp_tag=self._verp_tag(complaint.original_mail_from),
                status=None,
                diagnostic=mime.clean(f"spam complaint{agent}", _DIAGNOSTIC_CHARS),
                answered_message_id=self.answered,
                evidence=self._evidence(complaint.fields),
                dedupe_key=self._dedupe_key(complaint.recipient),
            )
        ]
