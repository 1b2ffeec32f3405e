"""At most a few xdist workers at a time run our own processes (a whole `syndicator run`,
Celery workers, `syndicator web`).

Each such system is several Python processes importing Celery, SQLAlchemy and the app at
once; four of them starting side by side on a two-core machine took minutes to answer, and
tests waiting on them ran out of their bounds. A worker takes a slot (an flock on a file
shared by the run's workers) when it spawns its first process, and gives it back once every
process it spawned has exited: after the test, or after the module whose fixture runs a
system for several tests. Other workers meanwhile run the tests that start nothing.

Outside xdist (one pytest process, a benchmark) there is nothing to share and no slot.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

__all__ = ["hold", "release", "release_if_idle", "track"]

# SYNDICATOR_TEST_SYSTEM_SLOTS=N lets N workers run systems at once (default 2 of 4).
SLOTS = max(1, int(os.environ.get("SYNDICATOR_TEST_SYSTEM_SLOTS", "2")))
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")
_guard = threading.Lock()
_held: IO[bytes] | None = None
_spawned: list[subprocess.Popen[bytes]] = []


def _directory() -> Path:
    directory = Path(tempfile.gettempdir()) / f"syndicator-test-slots-{_RUN}"
    directory.mkdir(exist_ok=True)
    return directory


def hold() -> None:
    """Take a slot unless this worker has one; wait while every slot is taken."""
    global _held
    if _RUN is None:
        return
    with _guard:
        if _held is not None:
            return
        files = [(_directory() / f"slot-{n}").open("ab") for n in range(SLOTS)]
        try:
            while _held is None:
                for file in files:
                    try:
                        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    _held = file
                    break
                else:
                    time.sleep(0.25)  # a lock on any of several files has no event to wait on
        finally:
            for file in files:
                if file is not _held:
                    file.close()


def track(process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Count ``process`` among those that keep this worker's slot taken."""
    with _guard:
        _spawned.append(process)
    return process


def release_if_idle() -> None:
    """Give the slot back once every process this worker spawned has exited."""
    with _guard:
        _spawned[:] = [process for process in _spawned if process.poll() is None]
        if _spawned:
            return
    release()


def release() -> None:
    global _held
    with _guard:
        if _held is not None:
            _held.close()  # closing the file drops its flock
            _held = None
