"""One returned mail in, its bounces and complaints recorded: what the pipe
(`syndicator bounces ingest`) and the IMAP poller share.

The VERP tag is looked for where the mail says it went, knowing our own bounce address:
the envelope recipient the mail server handed us, else any ``bounces+<tag>@`` address of
ours anywhere in the mail (its To header, the returned message's Return-Path, a copy of
the original). Only a tag that verifies is used, and only when the mail names one: a
report quoting two of our messages is left to its Message-ID.

Each mail is recorded in one transaction, so a mail piped again after a failure is
recorded once (its reports carry their dedupe keys).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass

from syndicator.bounces import verp
from syndicator.bounces.feedback import Feedback, Ignored
from syndicator.bounces.parsing import parse_report
from syndicator.bounces.recording import Outcome, RecordOutcome, record_feedback
from syndicator.config import Settings
from syndicator.store.db import Database

__all__ = ["IngestResult", "find_verp_tag", "ingest_message"]


@dataclass(frozen=True)
class IngestResult:
    """What became of one mail: ``ignored`` says why it carried nothing; otherwise one
    outcome per feedback it carried, in order."""

    ignored: str | None = None
    outcomes: tuple[tuple[Feedback, RecordOutcome], ...] = ()

    @property
    def recorded(self) -> int:
        return sum(1 for _, o in self.outcomes if o.outcome is Outcome.RECORDED)

    def as_dict(self) -> dict[str, object]:
        return {
            "ignored": self.ignored,
            "feedback": [
                {"kind": f.kind, "status": f.status, **o.as_dict()} for f, o in self.outcomes
            ],
        }


def ingest_message(
    raw: bytes,
    source: str,
    db: Database,
    settings: Settings,
    *,
    envelope_to: str | None = None,
) -> IngestResult:
    """Parse ``raw`` and record what it carries. ``source`` names the way in (pipe, imap);
    ``envelope_to`` is the address the mail was delivered to, when the caller knows it.
    Database errors propagate: the caller keeps the mail and tries again later."""
    parsed = parse_report(raw, source=source, envelope_to=envelope_to)
    if isinstance(parsed, Ignored):
        return IngestResult(ignored=parsed.reason)
    if not parsed:
        return IngestResult(ignored="no recipient found in the report")
    tag = find_verp_tag(settings, raw, envelope_to)
    fallback_key = "sha256:" + hashlib.sha256(raw).hexdigest()
    outcomes = []
    with db.session() as session:
        for feedback in parsed:
            feedback = dataclasses.replace(
                feedback,
                source=source,
                verp_tag=tag or feedback.verp_tag,
                dedupe_key=feedback.dedupe_key or f"{fallback_key} {feedback.recipient or ''}",
            )
            outcomes.append((feedback, record_feedback(session, feedback, settings)))
    return IngestResult(outcomes=tuple(outcomes))


def find_verp_tag(settings: Settings, raw: bytes, envelope_to: str | None = None) -> str | None:
    """The one genuine tag of our bounce address that ``raw`` was sent to or quotes."""
    if not settings.bounce_address:
        return None
    if envelope_to:
        tag = verp.tag_of_address(settings, envelope_to)
        if tag is not None and verp.read_tag(settings, tag) is not None:
            return tag
    local, _, domain = settings.bounce_address.rpartition("@")
    pattern = re.compile(
        re.escape(f"{local}+").encode() + rb"([0-9a-z-]{1,80})@" + re.escape(domain.encode()),
        re.IGNORECASE,
    )
    genuine = {
        tag.lower()
        for tag in (m.group(1).decode() for m in pattern.finditer(raw))
        if verp.read_tag(settings, tag) is not None
    }
    return genuine.pop() if len(genuine) == 1 else None
