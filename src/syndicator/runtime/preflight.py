"""Start-up checks: a process that cannot do its job says so in one line and exits.

The web, every worker and beat run these before they serve or consume; `/readyz` runs
the same checks for load balancers. Each problem names its fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.sentinel import SentinelConnectionPool
from sqlalchemy.exc import SQLAlchemyError

from syndicator.config import Settings, redact_url
from syndicator.runtime.redis_urls import redis_client
from syndicator.store.db import Database
from syndicator.store.migrate import schema_state
from syndicator.store.sealed import InvalidEncryptionKey, keyring

__all__ = [
    "Problem",
    "check_database",
    "check_database_writable",
    "check_encryption_keys",
    "check_redis",
    "first_line",
    "preflight",
]


@dataclass(frozen=True)
class Problem:
    check: str  # database | schema | write_lock | redis | encryption
    message: str  # one line, ending with the fix

    def __str__(self) -> str:
        return self.message


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_database(db: Database) -> Problem | None:
    try:
        state = schema_state(db)
    except SQLAlchemyError as exc:
        return Problem(
            "database",
            f"cannot reach the database at {redact_url(db.url)}: {first_line(exc)} "
            "(check SYNDICATOR_DATABASE_URL)",
        )
    if state.current is None:
        return Problem("schema", "the database has no schema yet; run: syndicator migrate")
    if not state.up_to_date:
        return Problem(
            "schema",
            f"the database schema is at revision {state.current}, this code needs "
            f"{state.head}; run: syndicator migrate",
        )
    return None


def check_encryption_keys(settings: Settings) -> Problem | None:
    """Partner secrets are stored sealed: a process without a (valid) key cannot serve."""
    try:
        keyring(settings.encryption_keys)
    except InvalidEncryptionKey as exc:
        return Problem("encryption", str(exc))
    return None


def check_database_writable(db: Database) -> Problem | None:
    """SQLite's write lock, held by someone else: reads answer, every write waits."""
    try:
        free = db.write_lock_free()
    except SQLAlchemyError as exc:
        return Problem("database", f"cannot reach the database: {first_line(exc)}")
    if free:
        return None
    return Problem(
        "write_lock",
        "the database is locked for writing by another connection (SQLite takes one "
        "writer at a time): hooks and delivery outcomes wait for it",
    )


def check_redis(client: redis.Redis) -> Problem | None:
    try:
        client.ping()
    except redis.RedisError as exc:
        return Problem("redis", f"cannot reach Redis: {exc} ({_redis_hint(client)})")
    return None


def _redis_hint(client: redis.Redis) -> str:
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        # Between a master's death and its replica's promotion, this is what a failover
        # looks like: the sentinels still name the old master, or none.
        return (
            f"the master {pool.service_name!r} through Sentinel: a failover under way, "
            "or check SYNDICATOR_REDIS_SENTINELS"
        )
    return "check SYNDICATOR_REDIS_URL"


def preflight(settings: Settings, *, need_redis: bool = True) -> list[Problem]:
    """Everything a process needs before it starts; empty when all is well."""
    with Database(settings.database_url) as db:
        problems = [p for p in (check_encryption_keys(settings), check_database(db)) if p]
    if need_redis:
        client = redis_client(settings, timeout=3)
        try:
            problems += [p for p in (check_redis(client),) if p]
        finally:
            client.close()
    return problems
