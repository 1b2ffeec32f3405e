"""Queue names. Each channel queue gets its own workers, so a slow channel never blocks another."""

__all__ = ["ALL_QUEUES", "CHANNEL_QUEUES", "EVENTS_QUEUE"]

# Fan-out and the sweeper: consumed by every worker, so planning never waits on one channel.
EVENTS_QUEUE = "events"
CHANNEL_QUEUES = ("feeds", "email", "webhooks")
ALL_QUEUES = (EVENTS_QUEUE, *CHANNEL_QUEUES)
