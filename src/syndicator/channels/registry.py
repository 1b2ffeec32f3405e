"""Which channels exist, and so which queues. A new channel is one module plus one line here.

Queues follow from the channels: each channel names its queue, and ``events`` (fan-out and
the sweeper) comes first. Workers, ``/readyz``, ``syndicator status`` and compose's worker
services all derive from this, so no queue waits for a consumer that nothing feeds.

``SYNDICATOR_EXTRA_CHANNELS`` (``module:Class``, comma-separated) adds channels at run
time, for tests and plugins. They are not in ``ALL_QUEUES``: start a worker with ``-Q``
naming their queue, or give them an existing one.
"""

from __future__ import annotations

import importlib

from syndicator.channels.base import Channel, ChannelContext
from syndicator.channels.email import EmailChannel
from syndicator.channels.feeds import FeedsChannel
from syndicator.channels.notices import NoticesChannel
from syndicator.channels.webhooks import WebhooksChannel
from syndicator.channels.websub import WebSubChannel

__all__ = [
    "ALL_QUEUES",
    "CHANNEL_QUEUES",
    "CHANNEL_TYPES",
    "EVENTS_QUEUE",
    "build_channels",
    "load_channel_type",
]

CHANNEL_TYPES: tuple[type[Channel], ...] = (
    FeedsChannel,
    WebSubChannel,
    EmailChannel,
    WebhooksChannel,
    NoticesChannel,
)

# Fan-out and the sweeper: consumed by every worker, so planning never waits on one channel.
EVENTS_QUEUE = "events"
CHANNEL_QUEUES: tuple[str, ...] = tuple(dict.fromkeys(kind.queue for kind in CHANNEL_TYPES))
ALL_QUEUES: tuple[str, ...] = (EVENTS_QUEUE, *CHANNEL_QUEUES)


def load_channel_type(spec: str) -> type[Channel]:
    """``package.module:ClassName`` -> the class, which must be a Channel."""
    module_name, _, class_name = spec.partition(":")
    kind = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(kind, type) and issubclass(kind, Channel)):
        raise ValueError(f"SYNDICATOR_EXTRA_CHANNELS: {spec!r} is not a Channel class")
    return kind


def build_channels(ctx: ChannelContext) -> dict[str, Channel]:
    kinds = [*CHANNEL_TYPES, *map(load_channel_type, ctx.settings.extra_channels)]
    return {kind.name: kind(ctx) for kind in kinds}
