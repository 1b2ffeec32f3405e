"""Redis with Sentinel: the master is killed (SIGKILL, a crash) in the middle of a
newsletter and of a partner fan-out whose requests are held open, and Sentinel promotes
the replica. Readiness names Redis while the failover lasts, delivery resumes within 30 s
of the promotion, and every mail and webhook arrives, duplicates staying within the rows
in flight at the crash.

Replication is asynchronous: a fan-out message the old master took and never passed on
is gone with it. The outbox still holds the event, and the sweeper relays it again."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from sqlalchemy import select

from syndicator.channels.registry import EVENTS_QUEUE
from syndicator.store.db import Database
from syndicator.store.models import OutboxEntry
from tests.chaos.support import FIGURES, Chaos, chaos_system, scaled, until, worker_mains
from tests.integration.webhook_receiver import Reply
from tests.sentinel import SentinelCluster, sentinel_cluster
from tests.system import wait_for

# The bound on the gap after the promotion (a poll's deadline, not a timing).
RESUME_SECONDS = 30.0


def _progress(chaos: Chaos) -> tuple[int, int]:
    """Mails the subscribers received, and webhook rows succeeded in the ledger."""
    with chaos.smtp.lock:
        mails = len(chaos.smtp.received)
    return mails, chaos.succeeded("webhooks")


def _resumed(chaos: Chaos, before: tuple[int, int]) -> bool:
    """Each channel delivered more since ``before``, or has nothing left to deliver."""
    return all(
        now > then or now >= owed
        for now, then, owed in zip(_progress(chaos), before, chaos.expected(), strict=True)
    )


def test_a_sentinel_failover_mid_flight_loses_nothing(
    tmp_path: Path, sqlite_url: str, cms_secret: str
) -> None:
    partners = scaled(100, 10)
    with (
        sentinel_cluster(tmp_path / "sentinel", password="redis-pass") as cluster,
        chaos_system(
            tmp_path, sqlite_url, None, cms_secret, partners=partners, **cluster.env()
        ) as chaos,
    ):
        # Every partner holds its first request open until after the promotion, so the
        # crash catches the partner fan-out mid-way, and not only the newsletter.
        answer = threading.Event()
        for name in chaos.partner_names:
            chaos.partners.script(name, Reply(until=answer))
        try:
            chaos.publish(1)
            until(
                lambda: chaos.statuses("webhooks")["in_progress"] == partners,
                120,
                "every partner's request in flight",
            )
            chaos.under_way()
            in_flight = chaos.in_flight()
            cluster.kill_master()
            mails_at_crash = _progress(chaos)[0]
            assert mails_at_crash < chaos.subscribers, "the crash came mid-newsletter"
            down = time.monotonic()
            until(lambda: chaos.probe.reported("Redis", since=down), 60, "readiness to name Redis")
            promoted = cluster.wait_promoted()
            before = _progress(chaos)
        finally:
            answer.set()
        wait_for(
            lambda: _resumed(chaos, before),
            RESUME_SECONDS,
            "mails and webhooks delivered again within 30 s of the promotion",
        )
        resumed = time.monotonic() - promoted
        chaos.wait_delivered("every delivery after the failover")
        drained = time.monotonic() - promoted
        chaos.wait_healthy()
        chaos.verdict(
            "sentinel-failover",
            in_flight,
            crash=f"at {mails_at_crash} mails",
            promotion=f"{promoted - down:.1f} s after the crash",
            resumed=f"{resumed:.1f} s after it",
            drained=f"{drained:.1f} s after it",
        )
    assert FIGURES, "the scenario printed its figures"


def _outbox(db: Database, event_id: str) -> tuple[bool, int]:
    """Whether the relay handed the event to the broker, and how often it was sent again."""
    with db.read_session() as session:
        relayed_at, attempts = session.execute(
            select(OutboxEntry.relayed_at, OutboxEntry.relay_attempts).where(
                OutboxEntry.event_id == event_id
            )
        ).one()
    return relayed_at is not None, int(attempts)


def _cut_blocked_pops(cluster: SentinelCluster) -> None:
    """Close every connection the master holds blocked in a BRPOP (a worker's wait)."""
    client = cluster.server(cluster.master_port)
    try:
        for entry in client.client_list():
            if entry.get("cmd") in ("brpop", "blpop"):
                client.client_kill_filter(_id=entry["id"])
    finally:
        client.close()


def _drop_queued_messages(cluster: SentinelCluster, queue: str) -> int:
    """Empty ``queue`` (each of its priority lists) on the current master; how many
    messages were there."""
    address = cluster.master_address()
    assert address is not None, "no master to drop the queue from"
    client = cluster.server(address[1])
    try:
        lists = [key for key in client.scan_iter(match=f"{queue}*") if client.type(key) == b"list"]
        dropped = sum(int(client.llen(key)) for key in lists)
        if lists:
            client.delete(*lists)
        return dropped
    finally:
        client.close()


def test_a_fan_out_the_old_master_never_passed_on_is_relayed_again(
    tmp_path: Path, sqlite_url: str, cms_secret: str
) -> None:
    with (
        sentinel_cluster(tmp_path / "sentinel") as cluster,
        chaos_system(
            tmp_path,
            sqlite_url,
            None,
            cms_secret,
            subscribers=5,
            partners=2,
            # How long the sweeper trusts the broker with a fan-out message: short here,
            # so the lost one is sent again within seconds.
            SYNDICATOR_VISIBILITY_TIMEOUT="10",
            **cluster.env(),
        ) as chaos,
    ):
        assert chaos.system.process is not None
        workers = worker_mains(chaos.system.process.pid)
        # No worker (both take fan-outs) may take the message off the queue before the
        # master dies.
        for worker in workers:
            os.kill(worker, signal.SIGSTOP)
        # A stopped worker may still be blocked in BRPOP: the master would hand it the
        # message, and kombu would put it back on the new master. Cut those waits.
        _cut_blocked_pops(cluster)
        try:
            event_id = chaos.publish(1)
            until(lambda: _outbox(chaos.db, event_id)[0], 60, "the relay to queue the fan-out")
            cluster.kill_master()
            down = time.monotonic()
            promoted = cluster.wait_promoted(120)
            # On one machine replication is all but instant: the write reached the replica
            # before the crash (even a SIGSTOPped replica's socket takes it). Across a
            # network it may not; that lost write is taken from the new master here,
            # before any worker is back.
            kept = _drop_queued_messages(cluster, EVENTS_QUEUE)
        finally:
            for worker in workers:
                os.kill(worker, signal.SIGCONT)
        chaos.wait_delivered("every delivery of the event whose fan-out was lost")
        delivered = time.monotonic() - promoted
        # At least once: a sweep may also have come while the promotion was under way.
        assert _outbox(chaos.db, event_id)[1] >= 1, "the sweeper sent the lost fan-out again"
        chaos.verdict(
            "sentinel-lost-enqueue",
            0,
            replicated=f"{kept} message(s) reached the replica and were dropped",
            promotion=f"{promoted - down:.1f} s after the crash",
            delivered=f"{delivered:.1f} s after it (visibility timeout 10 s)",
        )
