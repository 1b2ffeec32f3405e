"""Task names, so code that only sends a task (the relay) never imports the tasks module."""

__all__ = ["DELIVER", "DELIVER_PENDING", "FANOUT", "HEARTBEAT", "SWEEP"]

FANOUT = "workers.tasks.fanout"
DELIVER = "workers.tasks.deliver"
DELIVER_PENDING = "workers.tasks.deliver_pending"
SWEEP = "workers.tasks.sweep"
HEARTBEAT = "workers.tasks.heartbeat"
