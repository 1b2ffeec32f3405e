"""Email channel: newsletters to subscribers (``subscriber:<id>``). Being built (issue 9)."""

from __future__ import annotations

from typing import ClassVar

from syndicator.channels.base import SyncChannel

__all__ = ["EmailChannel"]


class EmailChannel(SyncChannel):
    name: ClassVar[str] = "email"
    queue: ClassVar[str] = "email"
