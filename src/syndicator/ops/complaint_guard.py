"""Newsletters pause themselves when residents complain too much.

Gmail and Yahoo throttle or refuse a sender whose complaint rate reaches 0.3 %: past that,
every further newsletter makes it worse for the city's domain. When the complaint rate of
the newsletters sent in the last 7 days reaches ``SYNDICATOR_COMPLAINT_PAUSE_PERCENT``,
over at least ``SYNDICATOR_COMPLAINT_PAUSE_MIN_SENT`` messages, the ``email`` channel is
paused exactly as an operator's pause would (its rows wait; nothing is lost), with the
reason on the pause and in the audit log. Only an operator resumes it.

The rate stays high for days after a bad newsletter, so a resume would be undone at the
next check. An operator who resumes has seen the numbers: the guard pauses again only
for a complaint received after the last resume.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from syndicator.config import Settings
from syndicator.logs import kv
from syndicator.mail.rates import WindowRates, window_rates
from syndicator.ops.actions import pause_channel
from syndicator.store.db import Database
from syndicator.store.models import AuditEntry, MailFeedback, utcnow

__all__ = ["CHANNEL", "GUARD_ACTOR", "ComplaintLimit", "check_complaints", "pause_reason"]

log = logging.getLogger("syndicator.ops")

GUARD_ACTOR = "syndicator:complaint-rate"
CHANNEL = "email"


@dataclass(frozen=True)
class ComplaintLimit:
    percent: float  # 0: never pause
    min_sent: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ComplaintLimit:
        return cls(settings.complaint_pause_percent, settings.complaint_pause_min_sent)

    def exceeded(self, window: WindowRates) -> bool:
        if self.percent <= 0 or window.sent < self.min_sent:
            return False
        return window.rate("complaint") * 100 >= self.percent


def pause_reason(window: WindowRates, limit: ComplaintLimit) -> str:
    """The operator's explanation, in the console's Korean, with the numbers behind it."""
    complaints, sent = window.counts["complaint"], window.sent
    return (
        f"수신자 신고율이 지난 7일 {window.rate('complaint') * 100:.2f}% "
        f"({sent:,}통 중 {complaints:,}건)로 기준 {limit.percent:g}% 이상이어서 뉴스레터 "
        "발송을 자동으로 멈췄습니다. 원인을 확인한 뒤 운영자가 재개해 주세요. "
        f"(complaint rate {window.rate('complaint'):.2%} over {sent} messages, "
        f"limit {limit.percent:g}%)"
    )


def _complained_since_resume(db: Database) -> bool:
    """Whether any complaint arrived after the email channel was last resumed (True when
    it never was)."""
    with db.read_session() as session:
        resumed = session.scalar(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.action == "resume", AuditEntry.target == f"channel:{CHANNEL}"
            )
        )
        if resumed is None:
            return True
        newer = session.scalar(
            select(MailFeedback.id)
            .where(MailFeedback.kind == "complaint", MailFeedback.received_at > resumed)
            .limit(1)
        )
        return newer is not None


def check_complaints(
    db: Database, limit: ComplaintLimit, now: datetime | None = None
) -> str | None:
    """Pause the newsletters if the complaint rate calls for it; the reason when this
    call paused them, None otherwise (below the limit, or paused already)."""
    with db.read_session() as session:
        window = window_rates(session, now or utcnow())
    if not limit.exceeded(window) or not _complained_since_resume(db):
        return None
    reason = pause_reason(window, limit)
    if not pause_channel(db, GUARD_ACTOR, CHANNEL, reason):
        return None
    log.warning(
        kv(
            msg="newsletters paused: complaint rate",
            rate=round(window.rate("complaint"), 5),
            sent=window.sent,
            complaints=window.counts["complaint"],
        )
    )
    return reason


def after_reports(db: Database, settings: Settings, kinds: Iterable[str]) -> str | None:
    """Once reports are committed: a complaint among them is checked at once rather than
    at beat's next minute. Never raises: the reports are kept whatever happens here, and
    beat checks again within the minute."""
    if "complaint" not in set(kinds):
        return None
    try:
        return check_complaints(db, ComplaintLimit.from_settings(settings))
    except Exception:
        log.exception(kv(msg="complaint check after recording failed; beat checks again"))
        return None
