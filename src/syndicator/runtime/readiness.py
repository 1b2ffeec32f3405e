"""Readiness, told truthfully: what the web tier needs, and what the pipeline needs.

``web_problems`` is for load balancers: the database at the code's schema revision, and
Redis. ``pipeline_causes`` is for operators and alerts: a live consumer that reaches the
database on every queue, a running beat, an outbox that is not falling behind, no claim
held by a worker process that is gone, and a mail server that is not turning every message
away (421, or no connection). Each cause is one sentence naming what is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as NoAnswer
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import redis

from syndicator.intake.outbox import backlog
from syndicator.ledger.claimers import read_liveness
from syndicator.mail.deferral import mail_deferred
from syndicator.runtime.coordination import QueueHeartbeat, beat_seen, queue_heartbeats
from syndicator.runtime.preflight import (
    Problem,
    check_database,
    check_database_writable,
    check_redis,
)
from syndicator.store.db import Database
from syndicator.store.models import utcnow

__all__ = [
    "CAUSE_KINDS",
    "CHECK_SECONDS",
    "OUTBOX_STALE_SECONDS",
    "PipelineCause",
    "pipeline_causes",
    "pipeline_problems",
    "web_problems",
]

# An event waiting longer than this in the outbox means the relay or the broker is stuck.
OUTBOX_STALE_SECONDS = 60.0
# What a readiness answer waits for its checks, run side by side: one that has not
# answered by then reports its dependency as not answering. A probe is answered within
# this long whatever hangs (a database held busy, a server that accepts and says nothing),
# which a load balancer's own probe timeout (a few seconds) needs.
CHECK_SECONDS = 2.0
# Checks left hanging keep their thread until their own call gives up; past this many,
# new checks queue and time out too, so a hang never grows the process.
_checks = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readiness")

T = TypeVar("T")


def _start(check: Callable[..., T], *args: object) -> Future[T]:
    return _checks.submit(check, *args)


class _Deadline:
    def __init__(self) -> None:
        self.at = time.monotonic() + CHECK_SECONDS

    def result(self, future: Future[T]) -> T:
        """The check's result; raises NoAnswer past the deadline (and the check's error)."""
        return future.result(timeout=max(0.0, self.at - time.monotonic()))


def _no_answer(what: str) -> str:
    return f"{what} did not answer within {CHECK_SECONDS:g} s"


def _database_problem(db: Database) -> Problem | None:
    return check_database(db) or check_database_writable(db)


def web_problems(db: Database, client: redis.Redis) -> list[Problem]:
    deadline = _Deadline()
    database, broker = _start(_database_problem, db), _start(check_redis, client)
    problems: list[Problem | None] = []
    try:
        problems.append(deadline.result(database))
    except NoAnswer:
        problems.append(Problem("database", _no_answer("the database")))
    try:
        problems.append(deadline.result(broker))
    except NoAnswer:
        problems.append(Problem("redis", _no_answer("Redis")))
    return [p for p in problems if p is not None]


@dataclass(frozen=True)
class PipelineCause:
    """One thing blocking the pipeline: a kind for metrics and alerts (``CAUSE_KINDS``),
    the queue it is about (or ""), the sentence anyone may read, and the error behind it
    (which may name a host, a user or a database: operators only)."""

    kind: str
    queue: str
    text: str
    detail: str = ""

    @property
    def full_text(self) -> str:
        return f"{self.text}: {self.detail}" if self.detail else self.text


CAUSE_KINDS = (
    "redis_unreachable",
    "no_consumer",
    "worker_database",
    "beat_down",
    "outbox_unreadable",
    "outbox_stale",
    "lost_claims",
    "mail_deferred",
)


def pipeline_problems(
    db: Database, client: redis.Redis, *, stale_after: timedelta
) -> list[PipelineCause]:
    """``stale_after``: when a silent worker is gone (SYNDICATOR_WORKER_STALE_SECONDS)."""
    causes: list[PipelineCause] = []
    deadline = _Deadline()
    broker = _start(_broker_state, client)
    outbox = _start(backlog, db)
    claims = _start(_lost_claims, db, stale_after)
    try:
        beats, beat, deferred = deadline.result(broker)
    except NoAnswer:
        return [PipelineCause("redis_unreachable", "", "cannot reach Redis", _no_answer("Redis"))]
    except redis.RedisError as exc:
        return [PipelineCause("redis_unreachable", "", "cannot reach Redis", str(exc))]
    for queue, heartbeat in beats.items():
        if heartbeat is None:
            text = f"no worker has consumed the {queue} queue in the last minute"
            causes.append(PipelineCause("no_consumer", queue, text))
        elif heartbeat.database != "ok":
            text = f"workers on the {queue} queue cannot reach the database"
            causes.append(PipelineCause("worker_database", queue, text, heartbeat.database))
    if beat is None:
        text = "beat is not running: the outbox is not relayed and retries are not swept"
        causes.append(PipelineCause("beat_down", "", text))
    if deferred is not None:
        text = "the mail server defers mail (421, or no connection)"
        causes.append(PipelineCause("mail_deferred", "email", text, deferred))
    try:
        waiting, oldest = deadline.result(outbox)
    except NoAnswer:
        text = "cannot read the outbox: the database did not answer"
        causes.append(PipelineCause("outbox_unreadable", "", text, _no_answer("the database")))
    except Exception as exc:
        text = f"cannot read the outbox: {type(exc).__name__}"
        causes.append(PipelineCause("outbox_unreadable", "", text))
    else:
        if oldest is not None and oldest > OUTBOX_STALE_SECONDS:
            text = f"{waiting} event(s) wait in the outbox, the oldest for {oldest:.0f} s"
            causes.append(PipelineCause("outbox_stale", "", text))
    try:
        lost = deadline.result(claims)
    except Exception:
        lost = 0  # the database is away: the outbox check above says so already
    if lost:
        text = (
            f"{lost} delivery claim(s) are held by worker processes that are gone; "
            "the sweeper releases them (is beat running?)"
        )
        causes.append(PipelineCause("lost_claims", "", text))
    return causes


def _broker_state(
    client: redis.Redis,
) -> tuple[dict[str, QueueHeartbeat | None], float | None, str | None]:
    return queue_heartbeats(client), beat_seen(client), mail_deferred(client)


def _lost_claims(db: Database, stale_after: timedelta) -> int:
    with db.read_session() as session:
        return read_liveness(session, utcnow(), stale_after).lost_claims


def pipeline_causes(
    db: Database, client: redis.Redis, *, stale_after: timedelta, detailed: bool = True
) -> list[str]:
    """One sentence per cause; ``detailed`` adds the error behind it (operators only)."""
    causes = pipeline_problems(db, client, stale_after=stale_after)
    return [cause.full_text if detailed else cause.text for cause in causes]
