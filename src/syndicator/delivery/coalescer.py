"""Run a job at most once at a time across all workers, folding bursts of requests into it.

Every request raises a "dirty" flag and tries the lock without waiting. The
holder keeps running while the flag is raised again, then checks it once more
after releasing, so no request is lost between its last run and the release.
No worker ever blocks on the lock, so a burst cannot starve other tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

__all__ = ["Coalescer"]


class Coalescer:
    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        min_interval: float,
        lock_seconds: float,
        budget_seconds: float = 60.0,
    ) -> None:
        self.client = client
        self.min_interval = min_interval
        self.lock_seconds = lock_seconds
        self.budget_seconds = budget_seconds
        self.dirty_key = f"syndicator:dirty:{name}"
        self.lock_key = f"syndicator:lock:{name}"
        self.last_run_key = f"syndicator:last-run:{name}"

    def request(self, run: Callable[[], None], has_work: Callable[[], bool]) -> bool:
        """Ask for a run; returns True when the caller should ask again later
        (this worker ran out of its time budget with requests still arriving)."""
        self.client.set(self.dirty_key, "1")
        while True:
            lock = self.client.lock(self.lock_key, timeout=self.lock_seconds)
            if not lock.acquire(blocking=False):
                return False  # the holder will see the flag
            try:
                if self._drain(run, has_work):
                    return True
            finally:
                lock.release()
            if not self.client.exists(self.dirty_key):
                return False

    def _drain(self, run: Callable[[], None], has_work: Callable[[], bool]) -> bool:
        started = time.monotonic()
        while self.client.delete(self.dirty_key):
            if has_work():
                self._pace()
                run()
            if time.monotonic() - started > self.budget_seconds:
                return True
        return False

    def _pace(self) -> None:
        """A lone request runs at once; in a burst, runs are spaced so each takes more."""
        last = self.client.get(self.last_run_key)
        if last is not None:
            wait = float(last) + self.min_interval - time.time()
            if 0 < wait <= self.min_interval:
                time.sleep(wait)
        self.client.set(self.last_run_key, str(time.time()), ex=3600)
