"""Feeds channel: re-render the feed documents an event touches, then ask for WebSub pings."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import ClassVar

from redis import RedisError
from sqlalchemy import select

from syndicator.channels.base import (
    BatchContext,
    CoalescingChannel,
    DeliveryOutcome,
    DeliveryReport,
    EventRecord,
    FollowUp,
)
from syndicator.feeds.changes import announce_documents
from syndicator.feeds.publish import publish_changes
from syndicator.feeds.queries import SITE_TARGET
from syndicator.ledger.claims import Claimed
from syndicator.ledger.quarantine import QuarantinedRelease, quarantined_among
from syndicator.logs import kv
from syndicator.store.models import Event

__all__ = ["SITE_TARGET", "FeedsChannel"]

log = logging.getLogger("syndicator.feeds")


class FeedsChannel(CoalescingChannel):
    name: ClassVar[str] = "feeds"
    queue: ClassVar[str] = "feeds"
    min_interval: ClassVar[float] = 0.25
    retry_schedule: ClassVar[tuple[float, ...]] = (5, 30, 120, 600, 1800)

    def plan(self, event: EventRecord) -> Iterable[str]:
        # One render covers every feed document; the target is the whole site.
        return [SITE_TARGET]

    def deliver_batch(self, jobs: Sequence[Claimed], batch: BatchContext) -> DeliveryReport:
        event_ids = [job.event_id for job in jobs]
        with self.ctx.db.read_session() as session:
            query = select(Event.id, Event.release_id).where(Event.id.in_(event_ids))
            release_of = {
                event_id: release_id
                for event_id, release_id in session.execute(query)
                if release_id is not None  # feeds are planned for release events only
            }
        changed = publish_changes(
            self.ctx.db, self.ctx.settings, set(release_of.values()), self._announce
        )
        with self.ctx.db.read_session() as session:
            held = quarantined_among(session, self.name, release_of.values())
        outcomes = [
            self._outcome(job, held.get(release_of.get(job.event_id, -1)), len(changed))
            for job in jobs
        ]
        follow_ups = []
        if self.ctx.settings.websub_hub and changed:
            # The newest claimed row's event owns the pings, so a replay keys the same rows.
            follow_ups.append(FollowUp("websub", jobs[-1].event_id, tuple(changed)))
        return DeliveryReport(outcomes, follow_ups)

    def _announce(self) -> None:
        """Web nodes refresh at once; without Redis they still find it at their next poll."""
        if self.ctx.redis is None:
            return
        try:
            announce_documents(self.ctx.redis)
        except RedisError as exc:
            log.warning(kv(msg="feed change not announced; web nodes poll", error=str(exc)))

    @staticmethod
    def _outcome(job: Claimed, held: QuarantinedRelease | None, changed: int) -> DeliveryOutcome:
        if held is None:
            return DeliveryOutcome(job.delivery_id, ok=True, detail=f"{changed} documents changed")
        # Not retryable: the same bytes fail the same way. An update lifts the quarantine.
        return DeliveryOutcome.permanent(
            job.delivery_id,
            held.error_class,
            f"release {held.release_id} quarantined: {held.detail}",
        )
