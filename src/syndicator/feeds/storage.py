"""The optional export of feed documents as files, for a front server or a CDN.

The database holds the documents every web node serves (syndicator.store.documents); this
copies them under ``SYNDICATOR_FEEDS_EXPORT_DIR``. Writes are atomic (temporary file, then
rename): readers see the old bytes or the new, never half. The file's mtime is the
document's Last-Modified, so a server reading the files sends the same validators.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from syndicator.feeds.urls import ARCHIVE_GLOBS

__all__ = [
    "export_documents",
    "is_archive_path",
    "remove_export",
    "sweep_exports",
]

_FILE_MODE = 0o644  # mkstemp creates 0600; the front server may run as another user
# A publish writes about 17 documents; more threads than that buy nothing.
_FSYNC_THREADS = 16


def is_archive_path(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in ARCHIVE_GLOBS)


def _fsync(path: str | Path) -> None:
    """Flush a file, or a directory's entries (a rename is durable once its directory is)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_all(paths: Sequence[str]) -> None:
    """fsync each file, concurrently: the filesystem commits them together (one journal
    commit for many files on ext4) instead of paying a disk flush per document."""
    if len(paths) <= 1:
        for path in paths:
            _fsync(path)
        return
    with ThreadPoolExecutor(max_workers=min(len(paths), _FSYNC_THREADS)) as pool:
        list(pool.map(_fsync, paths))


def _write_temporary(path: Path, data: bytes, last_modified: datetime) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    mtime = last_modified.timestamp()
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.chmod(tmp_name, _FILE_MODE)
        os.utime(tmp_name, (mtime, mtime))
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return tmp_name


def export_documents(documents: Sequence[tuple[Path, bytes, datetime]]) -> None:
    """Write each (path, bytes, last modified) atomically and durably, in the given order.

    Every temporary file is on disk before any rename, and each directory is synced once
    after its renames: a crash leaves each file old or new, never empty or half written.
    """
    written: list[tuple[str, Path]] = []
    try:
        for path, data, last_modified in documents:
            written.append((_write_temporary(path, data, last_modified), path))
        _fsync_all([tmp for tmp, _ in written])
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise
    for directory in dict.fromkeys(path.parent for _, path in written):
        _fsync(directory)


def remove_export(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    _fsync(path.parent)


def sweep_exports(root: Path, kept: Iterable[str]) -> None:
    """Remove exported archives no longer published, and temp files of a dead writer."""
    keep = set(kept)
    for pattern in ARCHIVE_GLOBS:
        for path in root.glob(pattern):
            if path.relative_to(root).as_posix() not in keep:
                remove_export(path)
    for tmp in root.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
