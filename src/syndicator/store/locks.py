"""A lock every process that reaches the database honours, freed the moment its holder dies.

PostgreSQL: a transaction advisory lock, in a transaction of its own held open on a
connection of its own for as long as the block runs. The server drops it when that
transaction ends, committed, rolled back or cut off (a worker killed with -9, a restart),
so nobody is held up by a dead holder. A transaction, not a session lock, so it works
through a transaction-mode pooler too (PgBouncer): the pooler keeps the server connection
for this client only while the transaction lasts, and a session lock would stay behind
on a server connection that other clients then use. The open transaction takes no
snapshot between statements (read committed), so it holds back no vacuum.
SQLite lives on one host: an flock on a file beside the database does the same there.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from syndicator.store.db import Database

__all__ = ["exclusive"]


def _key(name: str) -> int:
    # pg_advisory_xact_lock takes a signed 64-bit key; any stable hash of the name will do.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def _advisory(db: Database, name: str) -> Iterator[None]:
    with db.engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _key(name)})
        yield


@contextmanager
def _flock(db: Database, name: str) -> Iterator[None]:
    database = make_url(db.url).database
    if not database or database == ":memory:":
        yield  # one process owns an in-memory database
        return
    path = Path(f"{database}.{name}.lock")
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def exclusive(db: Database, name: str) -> Iterator[None]:
    """Run the block while no other holder of ``name`` runs, on any host."""
    lock = _flock if db.is_sqlite else _advisory
    with lock(db, name):
        yield
