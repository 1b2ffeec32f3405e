"""Beat's scheduler: RedBeat, so that of several beats exactly one schedules, plus the
lease that ties the outbox relay (workers/relay.py) to that same beat.

RedBeat keeps the schedule (each entry's last run) in Redis and lets only the holder of a
lock there send due tasks. Each tick renews the lock for ``redbeat_lock_timeout`` seconds;
a beat killed stops renewing it, and a beat waiting for it takes it within one
``max_interval`` of its expiry (RedBeat polls that often), then carries on from the last
runs recorded in Redis: nothing due is sent twice, nothing is skipped.

RedBeat exposes its lock only as a redis-py ``Lock`` whose token is thread-local, so the
relay thread cannot ask it who holds the lock. Each renewal the scheduler makes renews a
:class:`~syndicator.runtime.lease.Lease` instead, which the relay reads before each send.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from redbeat.schedulers import RedBeatScheduler, acquire_distributed_beat_lock, get_redis
from redis.exceptions import LockError

from syndicator.logs import kv
from syndicator.runtime.lease import MARGIN_SHARE, Lease

__all__ = ["RETRY_SECONDS", "Scheduler"]

# After a Redis error, beat tries again this soon (not a whole max interval on): what fell
# due during a Sentinel failover goes out within a second of the promotion.
RETRY_SECONDS = 1.0

log = logging.getLogger("syndicator.beat")


class _Starting:
    """What RedBeat's start-up hook takes: the beat service, for its scheduler."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler


class Scheduler(RedBeatScheduler):
    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(app, *args, **kwargs)
        self.lease = Lease(self.lock_timeout, margin=self.lock_timeout * MARGIN_SHARE)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if self.lock_key and self.lock is None:  # Redis was away when beat started
            self._stand_by()
        sent_at = self.lease.now()
        try:
            self._restore_schedule()
            # RedBeat renews the lock first, then sends what is due.
            interval = float(super().tick(*args, **kwargs))
        except LockError:
            # Expired while Redis or this process was stalled: another beat may be active.
            self.lease.lost()
            log.warning(kv(msg="beat lost its lock; waiting to take it again"))
            self._stand_by()
            return 0.0
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Not renewed: the lease runs out, and the relay stops with it.
            log.warning(kv(msg="beat paused: Redis unavailable", error=f"{type(exc).__name__}"))
            return min(RETRY_SECONDS, float(self.max_interval))
        self.lease.renewed(sent_at)
        return interval

    def _restore_schedule(self) -> None:
        """RedBeat writes the schedule to Redis once, at start-up; a Redis that came back
        empty (no append-only file, a replica promoted before it had it) would leave beat
        with nothing to send, ever. Written again, each entry is first due an interval on."""
        conf = self.app.redbeat_conf
        if conf.schedule and not get_redis(self.app).exists(conf.schedule_key):
            log.warning(kv(msg="beat schedule missing from Redis; writing it again"))
            self.setup_schedule()

    def _stand_by(self) -> None:
        """Wait until this beat holds the lock, as RedBeat does at start-up."""
        while True:
            try:
                acquire_distributed_beat_lock(sender=_Starting(self))
                return
            except redis.RedisError as exc:
                log.warning(kv(msg="beat waits for Redis", error=f"{type(exc).__name__}: {exc}"))
                time.sleep(self.max_interval)
