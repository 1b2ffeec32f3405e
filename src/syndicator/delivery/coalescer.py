"""Run a job at most once at a time across all workers, folding bursts of requests into it.

Every request raises a "dirty" flag and tries the lock without waiting. The
holder keeps running while the flag is raised again, then checks it once more
after releasing, so no request is lost between its last run and the release.
No worker ever blocks on the lock, so a burst cannot starve other tasks.

Runs in a burst are spaced ``min_interval`` apart, and each also waits as long as the
last one took (up to :data:`SPACING_CAP`): a feed render during a burst of publishes then
takes at most about half of a worker process, and the fan-outs and deliveries of the same
burst get the rest (bench/webhooks.py, `syndicator run`). The holder never sleeps out that
space: it leaves the flag raised, releases the lock and asks to be called again when the
space is over (one such call at a time), so a worker process is never held just waiting,
and other tasks (a fan-out) take it meanwhile.

The lock lives only :data:`LOCK_TTL` seconds and is renewed while its holder works, so a
worker killed with -9 holds up the next run for seconds, not for a task time limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import redis
from redis.lock import Lock

__all__ = ["LOCK_TTL", "SPACING_CAP", "Coalescer", "renewed"]

LOCK_TTL = 15.0
# The longest wait a burst's spacing adds; past it (a clock that jumped, a run that took
# very long once), the next run goes at once, as without spacing.
SPACING_CAP = 5.0


@contextmanager
def renewed(lock: Lock, ttl: float) -> Iterator[None]:
    """Keep ``lock`` alive while the block runs: reset its TTL every third of it."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(ttl / 3):
            try:
                lock.reacquire()
            except redis.RedisError:
                return  # lost (Redis restarted, or it expired): the holder finishes anyway

    thread = threading.Thread(target=renew, name=f"renew {lock.name!r}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class Coalescer:
    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        min_interval: float,
        lock_seconds: float = LOCK_TTL,
        budget_seconds: float = 60.0,
    ) -> None:
        self.client = client
        self.min_interval = min_interval
        self.lock_seconds = lock_seconds
        self.budget_seconds = budget_seconds
        self.dirty_key = f"syndicator:dirty:{name}"
        self.lock_key = f"syndicator:lock:{name}"
        # When the next run of a burst may start (unix time).
        self.next_run_key = f"syndicator:next-run:{name}"
        self.recheck_key = f"syndicator:recheck:{name}"
        self.resume_key = f"syndicator:resume:{name}"

    def request(self, run: Callable[[], None], has_work: Callable[[], bool]) -> float | None:
        """Ask for a run. Returns None when done, or in how many seconds the caller should
        ask again: when the next run of a burst is due, at once when this worker ran out of
        its time budget with requests still arriving, or when the lock would expire if
        another holder is busy, because that holder may be dead and then nobody would see
        the flag."""
        self.client.set(self.dirty_key, "1")
        while True:
            # Not thread-local: the renewing thread must see the token the holder took.
            lock = self.client.lock(self.lock_key, timeout=self.lock_seconds, thread_local=False)
            if not lock.acquire(blocking=False):
                delay = max(self.client.pttl(self.lock_key), 0) / 1000 + 0.5
                return self._recheck_in(delay)
            try:
                with renewed(lock, self.lock_seconds):
                    again = self._drain(run, has_work)
            finally:
                # It may have expired while Redis was away; then nobody holds our token.
                with suppress(redis.exceptions.LockError):
                    lock.release()
            if again is not None:
                return again if again == 0.0 else self._resume_in(again)
            if not self.client.exists(self.dirty_key):
                return None

    def _recheck_in(self, delay: float) -> float | None:
        """``delay``, unless a re-check is already scheduled: one at a time, however many
        requests met the holder or the spacing."""
        if self.client.set(self.recheck_key, "1", px=max(1, int(delay * 1000)), nx=True):
            return delay
        return None

    def _resume_in(self, wait: float) -> float | None:
        """``wait``, unless a call is already due later to take the raised flag. A call
        that is due by now may already have looked: then this one is needed too."""
        due = time.time() + wait
        expiry = int(wait * 1000) + 1000
        if self.client.set(self.resume_key, repr(due), px=expiry, nx=True):
            return wait
        scheduled = self.client.get(self.resume_key)
        if scheduled is not None and float(scheduled) > time.time():
            return None
        self.client.set(self.resume_key, repr(due), px=expiry)
        return wait

    def _drain(self, run: Callable[[], None], has_work: Callable[[], bool]) -> float | None:
        """Run while requests keep coming. Returns None when none is left, or when to
        come back: the spacing's end (the flag stays raised), or 0 past the budget."""
        started = time.monotonic()
        while self.client.exists(self.dirty_key):
            wait = self._spacing()
            if wait > 0:
                return wait
            if not self.client.delete(self.dirty_key):
                return None
            if has_work():
                began = time.time()
                # Set before the run too: a run that raises still spaces the next one.
                self._space_until(began + self.min_interval)
                run()
                ended = time.time()
                self._space_until(max(began + self.min_interval, ended + (ended - began)))
            if time.monotonic() - started > self.budget_seconds:
                return 0.0
        return None

    def _space_until(self, when: float) -> None:
        self.client.set(self.next_run_key, repr(when), ex=3600)

    def _spacing(self) -> float:
        """A lone request runs at once; in a burst, runs are spaced so each takes more."""
        due = self.client.get(self.next_run_key)
        if due is None:
            return 0.0
        wait = float(due) - time.time()
        return wait if 0 < wait <= self.min_interval + SPACING_CAP else 0.0
