"""Telling web nodes that feed documents changed: one Redis pub/sub message per stored
version, so each node refreshes at once instead of at its next poll.

Best effort by design: a node that misses a message (Redis away, a reconnect) finds the
change at its next poll (``SYNDICATOR_DOCUMENT_CHECK_SECONDS``), which stays the guarantee.
"""

from __future__ import annotations

import redis

__all__ = ["announce_documents", "announce_from_command", "documents_channel"]

# Redis channels ignore the database number, so it is in the name: deployments sharing
# one Redis on different databases never wake each other's nodes.
_CHANNEL = "syndicator:{db}:documents-stored"


def documents_channel(db: int) -> str:
    return _CHANNEL.format(db=db)


def announce_documents(client: redis.Redis) -> None:
    client.publish(documents_channel(client.connection_pool.connection_kwargs.get("db", 0)), "1")


def announce_from_command(client: redis.Redis) -> bool:
    """Announce after a command rendered documents (import, rebuild-feeds), through
    ``client``, which is closed afterwards; True if Redis took it. Without Redis the web
    nodes' poll finds the change."""
    try:
        announce_documents(client)
        return True
    except redis.RedisError:
        return False
    finally:
        client.close()
