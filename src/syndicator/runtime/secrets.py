"""Secrets generated for the embedded default, kept under the data directory (mode 600)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from syndicator.permissions import private_dir

__all__ = ["ensure_secret", "random_token"]


def random_token() -> str:
    return secrets.token_urlsafe(32)


def ensure_secret(directory: Path, name: str, generate: Callable[[], str]) -> tuple[str, bool]:
    """Return the stored secret, creating it first if needed; the flag says it is new."""
    path = private_dir(directory) / name
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip(), False
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value, True
