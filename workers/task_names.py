"""Task names, so code that only sends a task (the relay) never imports the tasks module."""

__all__ = [
    "COMPLAINT_GUARD",
    "DELIVER",
    "DELIVER_PENDING",
    "DIGESTS",
    "EXPIRE_NOTICES",
    "FANOUT",
    "HEARTBEAT",
    "PRUNE_ATTEMPTS",
    "READ_BOUNCE_MAILBOX",
    "SWEEP",
]

FANOUT = "workers.tasks.fanout"
DELIVER = "workers.tasks.deliver"
DELIVER_PENDING = "workers.tasks.deliver_pending"
SWEEP = "workers.tasks.sweep"
HEARTBEAT = "workers.tasks.heartbeat"
PRUNE_ATTEMPTS = "workers.webhook_tasks.prune_attempts"
DIGESTS = "workers.mail_tasks.digests"
COMPLAINT_GUARD = "workers.mail_tasks.complaint_guard"
EXPIRE_NOTICES = "workers.feed_tasks.expire_retraction_notices"
READ_BOUNCE_MAILBOX = "workers.bounce_tasks.read_bounce_mailbox"
