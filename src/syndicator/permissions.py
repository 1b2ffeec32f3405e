"""Files only their owner may read: the data directory, the secrets and the SQLite database."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["private_dir", "private_file"]


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 700), or tighten it to 700 if it exists and is ours."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode passes through the umask and leaves an existing directory as it was.
    if path.stat().st_uid == os.getuid():
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 600 if it is missing; an existing file is left alone."""
    # O_EXCL: never open an existing file for writing (it may be read-only to us).
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path
