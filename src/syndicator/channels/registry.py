"""Which channels exist. A new channel is one module plus one line here."""

from __future__ import annotations

from syndicator.channels.base import Channel, ChannelContext
from syndicator.channels.feeds import FeedsChannel
from syndicator.channels.websub import WebSubChannel

__all__ = ["build_channels"]

_CHANNEL_TYPES = (FeedsChannel, WebSubChannel)


def build_channels(ctx: ChannelContext) -> dict[str, Channel]:
    return {kind.name: kind(ctx) for kind in _CHANNEL_TYPES}
