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
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from syndicator.feeds.urls import ARCHIVE_GLOBS

__all__ = ["export_document", "is_archive_path", "remove_export", "sweep_exports"]

_FILE_MODE = 0o644  # mkstemp creates 0600; the front server may run as another user


def is_archive_path(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in ARCHIVE_GLOBS)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def export_document(path: Path, data: bytes, last_modified: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mtime = last_modified.timestamp()
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


def remove_export(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    _fsync_dir(path.parent)


def sweep_exports(root: Path, kept: Iterable[str]) -> None:
    """Remove exported archives no longer published, and temp files of a dead writer."""
    keep = set(kept)
    for pattern in ARCHIVE_GLOBS:
        for path in root.glob(pattern):
            if path.relative_to(root).as_posix() not in keep:
                remove_export(path)
    for tmp in root.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
