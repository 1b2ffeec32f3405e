"""Who holds a claim, and whether it is still alive.

Each process that claims deliveries registers itself (a random id, its host and pid, and
a process key) and a background thread refreshes its heartbeat every few seconds. The
sweeper releases the claims of a process whose heartbeat stopped; on the process's own
host it need not wait for that: the process key says whether that very process still
runs, even after the pid was reused or the machine rebooted.

The process key is ``boot id / pid namespace / start time`` (Linux's ``/proc``). A key
is only judged on the host and in the pid namespace that wrote it; anywhere else (another
host, another container, a system without ``/proc``) the heartbeat alone decides.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from syndicator.ledger.claimers import (
    Released,
    beat,
    mark_stopped,
    prune,
    register,
    release_lost_claims,
)
from syndicator.logs import kv
from syndicator.store.db import Database
from syndicator.store.models import WorkerProcess, utcnow

__all__ = ["LivenessBeat", "ProcessIdentity", "is_gone", "process_key", "release_lost"]

log = logging.getLogger("syndicator.workers")

_PROC = Path("/proc")
# After a failed heartbeat (the database away), try again this soon: a worker that is
# alive must not look dead for longer than the database was unreachable.
_RETRY_SECONDS = 1.0


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _boot_id() -> str:
    return _read(_PROC / "sys/kernel/random/boot_id") or "-"


def _pid_namespace() -> str:
    try:
        return os.readlink(_PROC / "self/ns/pid")
    except OSError:
        return "-"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None if there is none (or
    only its corpse: a killed process stays a zombie until its parent, or init, reaps it)."""
    stat = _read(_PROC / str(pid) / "stat")
    if stat is None:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def process_key(pid: int) -> str | None:
    """``boot/pid namespace/start time`` of a running process on this host, or None."""
    start = _start_time(pid)
    if start is None:
        return None
    return f"{_boot_id()}/{_pid_namespace()}/{start}"


def is_gone(row: WorkerProcess, host: str | None = None) -> bool:
    """True only when this host can tell that the process of ``row`` no longer runs:
    it ran here, in this pid namespace, and either the machine rebooted since, or no
    process with its pid and start time exists. False when it runs or cannot be told."""
    if row.host != (host or socket.gethostname()):
        return False
    boot, _, rest = row.process_key.partition("/")
    namespace, _, start = rest.rpartition("/")
    if boot == "-" or namespace != _pid_namespace():
        return False  # no /proc, or another container that shares the host name
    if boot != _boot_id():
        return True  # the machine restarted: nothing from before runs
    return _start_time(row.pid) != start


@dataclass(frozen=True)
class ProcessIdentity:
    id: str
    host: str
    pid: int
    process_key: str

    @classmethod
    def current(cls) -> ProcessIdentity:
        pid = os.getpid()
        key = process_key(pid) or f"-/-/{pid}"
        return cls(uuid.uuid4().hex, socket.gethostname(), pid, key)


class LivenessBeat(threading.Thread):
    """Registers this process, then refreshes its heartbeat every ``every`` seconds, and
    after each heartbeat the database took runs ``on_heard`` (a worker settles there what
    an outage kept from its batches: delivery/settlements.py)."""

    def __init__(
        self,
        db: Database,
        identity: ProcessIdentity,
        every: float,
        on_heard: Callable[[], object] = lambda: None,
    ) -> None:
        super().__init__(name="liveness", daemon=True)
        self.db = db
        self.identity = identity
        self.every = every
        self.on_heard = on_heard
        self.stopping = threading.Event()
        # Since when every heartbeat got through, and when the last one did (monotonic).
        self._heard_since: float | None = None
        self._last_heard = 0.0

    def register(self) -> None:
        """Synchronously, before the first claim: a claim never names an unknown worker."""
        with self.db.session() as session:
            self._register(session)
        self._heard_since = self._last_heard = time.monotonic()

    def _register(self, session: Session) -> None:
        i = self.identity
        register(session, i.id, i.host, i.pid, i.process_key)

    def beat_once(self) -> bool:
        """One heartbeat; False if the database did not take it."""
        try:
            with self.db.session() as session:
                missing = not beat(session, self.identity.id) and (
                    session.get(WorkerProcess, self.identity.id) is None
                )
                if missing:  # pruned while we were away
                    self._register(session)
        except Exception as exc:  # the database away: readiness says so meanwhile
            if self._heard_since is not None:
                log.warning(kv(msg="heartbeat not written", error=f"{type(exc).__name__}: {exc}"))
            self._heard_since = None
            return False
        now = time.monotonic()
        # A heartbeat that got through late (SQLite's lock held by another writer) ends a
        # stretch in which this process was not heard: the others' heartbeats waited as
        # long, so it is heard anew from now, not since before the wait.
        overdue = self._overdue(now)
        self._last_heard = now
        if self._heard_since is None or overdue:
            self._heard_since = now
        return True

    def _overdue(self, now: float) -> bool:
        return now - self._last_heard > 2 * self.every + _RETRY_SECONDS

    def heard_for(self) -> float:
        """How long this process's heartbeats have all got through (0 while they fail).
        A process that could not write its own heartbeat could not read the others'
        either: it must not judge them silent until it has been heard as long itself. A
        heartbeat overdue (the database too busy to take it) counts as a failed one."""
        now = time.monotonic()
        if self._heard_since is None or self._overdue(now):
            return 0.0
        return now - self._heard_since

    def run(self) -> None:
        wait = self.every
        while not self.stopping.wait(wait):
            heard = self.beat_once()
            wait = self.every if heard else _RETRY_SECONDS
            if heard:
                try:
                    self.on_heard()
                except Exception:  # never let it stop the heartbeat
                    log.exception(kv(msg="after-heartbeat work failed"))

    def stop(self) -> None:
        """A clean exit: no longer live (claims were handed back by their batches)."""
        self.stopping.set()
        try:
            with self.db.session() as session:
                mark_stopped(session, self.identity.id)
        except Exception as exc:  # exiting anyway: the heartbeat rule covers it
            log.warning(kv(msg="could not mark worker stopped", error=str(exc)))


def release_lost(db: Database, stale_after: timedelta, heartbeats: bool = True) -> list[Released]:
    """Release the claims of every worker process that is gone (this host's own check
    first, the heartbeat for the rest, unless ``heartbeats`` is False), and forget
    long-gone workers. The sweeper runs it every few seconds; ``syndicator run`` once
    before it starts its workers."""
    host = socket.gethostname()
    with db.session() as session:
        now = utcnow()
        released = release_lost_claims(
            session, now, stale_after, lambda w: is_gone(w, host), heartbeats
        )
        prune(session, now)
    for lost in released:
        log.warning(
            kv(
                msg="claims of a lost worker released",
                worker=lost.worker_id,
                host=lost.host,
                pid=lost.pid,
                reason=lost.reason,
                deliveries=lost.deliveries,
                channels=",".join(f"{c}:{n}" for c, n in sorted(lost.channels.items())),
            )
        )
    return released
