"""Partner webhooks (``partner:<id>``). Being built (issue 10)."""

from __future__ import annotations

from typing import ClassVar

from syndicator.channels.base import AsyncChannel

__all__ = ["WebhooksChannel"]


class WebhooksChannel(AsyncChannel):
    name: ClassVar[str] = "webhooks"
    queue: ClassVar[str] = "webhooks"
