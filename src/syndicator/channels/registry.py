"""Which channels exist, and so which queues. A new channel is one module plus one line here.

Queues follow from the channels: each channel names its queue, and ``events`` (fan-out and
the sweeper) comes first. Workers, ``/readyz``, ``syndicator status`` and compose's worker
services all derive from this, so no queue waits for a consumer that nothing feeds.
"""

from __future__ import annotations

from syndicator.channels.base import Channel, ChannelContext
from syndicator.channels.feeds import FeedsChannel
from syndicator.channels.websub import WebSubChannel

__all__ = ["ALL_QUEUES", "CHANNEL_QUEUES", "CHANNEL_TYPES", "EVENTS_QUEUE", "build_channels"]

CHANNEL_TYPES: tuple[type[Channel], ...] = (FeedsChannel, WebSubChannel)

# Fan-out and the sweeper: consumed by every worker, so planning never waits on one channel.
EVENTS_QUEUE = "events"
CHANNEL_QUEUES: tuple[str, ...] = tuple(dict.fromkeys(kind.queue for kind in CHANNEL_TYPES))
ALL_QUEUES: tuple[str, ...] = (EVENTS_QUEUE, *CHANNEL_QUEUES)


def build_channels(ctx: ChannelContext) -> dict[str, Channel]:
    return {kind.name: kind(ctx) for kind in CHANNEL_TYPES}
