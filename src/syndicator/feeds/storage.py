"""Atomic document writes under feeds_dir: readers see the old bytes or the new, never half.

The file's mtime carries the content's date (the newest entry), so the web layer's
Last-Modified is a property of the content, not of when a worker happened to render it.
"""

from __future__ import annotations

import fcntl
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

__all__ = ["feeds_lock", "remove_document", "write_document"]

_FILE_MODE = 0o644  # mkstemp creates 0600; the web server may run as another user


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime_for(path: Path, content_time: datetime) -> float:
    wanted = content_time.timestamp()
    try:
        previous = path.stat().st_mtime
    except FileNotFoundError:
        return wanted
    # Content can change without a newer entry (a move to another department, an entry
    # leaving an archive month): step past the old second so If-Modified-Since never
    # answers 304 for bytes the client has not seen.
    return max(wanted, math.floor(previous) + 1)


def write_document(path: Path, data: bytes, content_time: datetime) -> bool:
    """Replace ``path`` with ``data`` unless it already holds exactly that; True if written."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    mtime = _mtime_for(path, content_time)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, _FILE_MODE)
        os.utime(tmp_name, (mtime, mtime))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return True


def remove_document(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    _fsync_dir(path.parent)
    return True


@contextmanager
def feeds_lock(feeds_dir: Path) -> Iterator[None]:
    """One publisher at a time per feeds_dir (processes and threads alike: flock is per open
    file). Without it a slower render of an older snapshot could overwrite a newer one."""
    feeds_dir.mkdir(parents=True, exist_ok=True)
    with open(feeds_dir / ".lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
